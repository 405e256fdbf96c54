//! QR codes of links (a group's invite link; later a user's contact link), as PNG or SVG: the
//! `qrcode` crate lays out the modules, `png` encodes them, 8 pixels a module with the
//! standard 4-module quiet zone.

use qrcode::{Color, QrCode};

use crate::api::models::RawFile;
use crate::api::requests::QrFormat;
use crate::error::ApiError;

/// Pixels per module in the PNG.
const SCALE: usize = 8;
/// Light modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// `text` as a QR code in `format`.
pub fn encode(text: &str, format: QrFormat) -> Result<RawFile, ApiError> {
    let code =
        QrCode::new(text.as_bytes()).map_err(|e| ApiError::Internal(format!("QR code: {e}")))?;
    Ok(match format {
        QrFormat::Svg => RawFile {
            content_type: "image/svg+xml",
            bytes: code
                .render::<qrcode::render::svg::Color>()
                .quiet_zone(true)
                .min_dimensions(256, 256)
                .build()
                .into_bytes(),
        },
        QrFormat::Png => RawFile {
            content_type: "image/png",
            bytes: png_of(&code)?,
        },
    })
}

/// The code as an 8-bit greyscale PNG.
fn png_of(code: &QrCode) -> Result<Vec<u8>, ApiError> {
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * SCALE..(my + 1) * SCALE {
            pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
        }
    }
    let failed = |e: png::EncodingError| ApiError::Internal(format!("PNG: {e}"));
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(bytes)
}
