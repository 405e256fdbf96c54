//! Pictures: the EXIF orientation applied, then lossy WebP (quality 80) variants: `thumbnail`
//! 150x150 (cover), `medium` within 400x400 and `large` within 800x800, never upscaled,
//! transparency kept; the original without its metadata (EXIF with GPS, XMP, IPTC,
//! comments; the orientation alone is kept); a still thumbnail of an animated GIF or WebP (its
//! first frame). A pixel-count limit refuses decompression bombs before anything is decoded.
//!
//! A JPEG is decoded shrunk (the DCT scales by 1/2, 1/4 or 1/8 while decoding, as libvips'
//! shrink-on-load does) to the smallest size that still covers the largest variant.

use std::io::Cursor;

use bytes::Bytes;
use fast_image_resize::{images::Image as ResizeImage, IntoImageView, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use img_parts::{ImageEXIF, ImageICC};

/// Pictures larger than this are refused (a 50-megapixel picture decodes to 200 MB).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Memory the decoder may allocate at most.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
const WEBP_QUALITY: f32 = 80.0;

/// One output picture.
pub struct Variant {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// What processing a picture made.
pub struct Processed {
    /// As shown (after orientation).
    pub width: u32,
    pub height: u32,
    pub animated: bool,
    pub variants: Vec<Variant>,
}

/// Why a picture could not be processed: always the file's fault (retrying cannot help).
#[derive(Debug, thiserror::Error)]
pub enum ImageFailure {
    #[error("the picture is {0} pixels; at most {MAX_PIXELS} are accepted")]
    TooManyPixels(u64),
    #[error("the picture cannot be read: {0}")]
    Unreadable(String),
}

fn unreadable(e: impl std::fmt::Display) -> ImageFailure {
    ImageFailure::Unreadable(e.to_string())
}

/// Process a picture whose real type is `mime`.
pub fn process(bytes: &[u8], mime: &str) -> Result<Processed, ImageFailure> {
    let decoded = if mime == "image/jpeg" {
        match decode_jpeg_shrunk(bytes, 800)? {
            Some(d) => d,
            None => decode(bytes)?,
        }
    } else {
        decode(bytes)?
    };
    let Decoded {
        image,
        width,
        height,
        orientation,
        animated,
    } = decoded;
    let mut variants = Vec::with_capacity(4);
    let (tw, th) = cover_size(width, height, 150);
    variants.push(webp_variant("thumbnail", &resize(&image, tw, th)?));
    for (name, edge) in [("medium", 400), ("large", 800)] {
        let (w, h) = fit_size(width, height, edge);
        variants.push(webp_variant(name, &resize(&image, w, h)?));
    }
    if let Some(stripped) = strip_metadata(bytes, mime, orientation) {
        variants.push(Variant {
            name: "original",
            bytes: stripped,
            content_type: match mime {
                "image/png" => "image/png",
                "image/webp" => "image/webp",
                _ => "image/jpeg",
            },
            width,
            height,
        });
    }
    Ok(Processed {
        width,
        height,
        animated,
        variants,
    })
}

struct Decoded {
    /// Oriented; possibly smaller than `width` x `height` (a shrunk JPEG).
    image: DynamicImage,
    /// The picture's own size, oriented.
    width: u32,
    height: u32,
    orientation: Orientation,
    animated: bool,
}

fn check_pixels(width: u32, height: u32) -> Result<(), ImageFailure> {
    let pixels = width as u64 * height as u64;
    if pixels > MAX_PIXELS {
        return Err(ImageFailure::TooManyPixels(pixels));
    }
    Ok(())
}

fn oriented_size(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    use Orientation::*;
    match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (height, width),
        _ => (width, height),
    }
}

/// Any picture, through the `image` crate: size checked from the header first.
fn decode(bytes: &[u8]) -> Result<Decoded, ImageFailure> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(unreadable)?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let format = reader.format();
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let animated = match format {
        Some(image::ImageFormat::Gif) => gif_is_animated(bytes),
        Some(image::ImageFormat::WebP) => image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
            .map(|d| d.has_animation())
            .unwrap_or(false),
        Some(image::ImageFormat::Png) => image::codecs::png::PngDecoder::new(Cursor::new(bytes))
            .ok()
            .and_then(|d| d.is_apng().ok())
            .unwrap_or(false),
        _ => false,
    };
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let (width, height) = oriented_size(w, h, orientation);
    Ok(Decoded {
        image,
        width,
        height,
        orientation,
        animated,
    })
}

fn gif_is_animated(bytes: &[u8]) -> bool {
    use image::AnimationDecoder;
    image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
        .map(|d| d.into_frames().take(2).count() > 1)
        .unwrap_or(false)
}

/// A JPEG decoded at the smallest DCT scale that still covers `edge` x `edge` fitting; `None`
/// for pixel formats this path leaves to [`decode`] (CMYK, 16-bit).
fn decode_jpeg_shrunk(bytes: &[u8], edge: u32) -> Result<Option<Decoded>, ImageFailure> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(unreadable)?;
    let info = decoder.info().ok_or_else(|| unreadable("no JPEG header"))?;
    let (w, h) = (info.width as u32, info.height as u32);
    check_pixels(w, h)?;
    let color = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => image::ColorType::Rgb8,
        jpeg_decoder::PixelFormat::L8 => image::ColorType::L8,
        _ => return Ok(None),
    };
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (fw, fh) = fit_size(w, h, edge);
    let (sw, sh) = decoder
        .scale(fw.max(1) as u16, fh.max(1) as u16)
        .map_err(unreadable)?;
    let pixels = decoder.decode().map_err(unreadable)?;
    let image = match color {
        image::ColorType::L8 => {
            image::GrayImage::from_raw(sw as u32, sh as u32, pixels).map(DynamicImage::ImageLuma8)
        }
        _ => image::RgbImage::from_raw(sw as u32, sh as u32, pixels).map(DynamicImage::ImageRgb8),
    };
    let mut image = image.ok_or_else(|| unreadable("the JPEG decoded to the wrong size"))?;
    image.apply_orientation(orientation);
    let (width, height) = oriented_size(w, h, orientation);
    Ok(Some(Decoded {
        image,
        width,
        height,
        orientation,
        animated: false,
    }))
}

/// The size within `edge` x `edge`, aspect kept, never larger than the picture.
pub fn fit_size(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= edge {
        return (width, height);
    }
    let scale = edge as f64 / longest as f64;
    (
        ((width as f64 * scale).round() as u32).max(1),
        ((height as f64 * scale).round() as u32).max(1),
    )
}

/// The square a cover crop fills: `edge`, or the picture's shorter side if that is smaller.
pub fn cover_size(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let side = edge.min(width).min(height).max(1);
    (side, side)
}

/// Resize to `w` x `h`, cropping the centre when the aspect ratio differs (cover).
fn resize(image: &DynamicImage, w: u32, h: u32) -> Result<DynamicImage, ImageFailure> {
    // Luma and 16-bit pictures are resized as 8-bit RGB(A); transparency is kept.
    let source = match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => image.clone(),
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    if source.width() == w && source.height() == h {
        return Ok(source);
    }
    let pixel_type = source
        .pixel_type()
        .ok_or_else(|| unreadable("unsupported pixel type"))?;
    let mut target = ResizeImage::new(w, h, pixel_type);
    Resizer::new()
        .resize(
            &source,
            &mut target,
            &ResizeOptions::new().fit_into_destination(Some((0.5, 0.5))),
        )
        .map_err(unreadable)?;
    let buffer = target.into_vec();
    let resized = if source.color().has_alpha() {
        image::RgbaImage::from_raw(w, h, buffer).map(DynamicImage::ImageRgba8)
    } else {
        image::RgbImage::from_raw(w, h, buffer).map(DynamicImage::ImageRgb8)
    };
    resized.ok_or_else(|| unreadable("resize produced the wrong size"))
}

/// Encode as lossy WebP (libwebp), with alpha when the picture has any.
pub fn webp_variant(name: &'static str, image: &DynamicImage) -> Variant {
    let (w, h) = (image.width(), image.height());
    let encoded = match image {
        DynamicImage::ImageRgba8(rgba) => webp::Encoder::from_rgba(rgba, w, h).encode(WEBP_QUALITY),
        DynamicImage::ImageRgb8(rgb) => webp::Encoder::from_rgb(rgb, w, h).encode(WEBP_QUALITY),
        other if other.color().has_alpha() => {
            webp::Encoder::from_rgba(&other.to_rgba8(), w, h).encode(WEBP_QUALITY)
        }
        other => webp::Encoder::from_rgb(&other.to_rgb8(), w, h).encode(WEBP_QUALITY),
    };
    Variant {
        name,
        bytes: encoded.to_vec(),
        content_type: "image/webp",
        width: w,
        height: h,
    }
}

/// The original without metadata, losslessly (the compressed picture data is untouched): for
/// JPEG every APP1 (EXIF, XMP), APP13 (IPTC) and comment segment goes, and an EXIF holding
/// only the orientation comes back when the picture has one; for PNG the text, time and EXIF
/// chunks; for WebP the EXIF and XMP chunks. `None` when there is nothing to remove (GIF).
fn strip_metadata(bytes: &[u8], mime: &str, orientation: Orientation) -> Option<Vec<u8>> {
    let input = Bytes::copy_from_slice(bytes);
    match mime {
        "image/jpeg" => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(input).ok()?;
            for marker in [
                img_parts::jpeg::markers::APP1,
                img_parts::jpeg::markers::APP13,
                img_parts::jpeg::markers::COM,
            ] {
                jpeg.remove_segments_by_marker(marker);
            }
            if orientation != Orientation::NoTransforms {
                jpeg.set_exif(Some(orientation_only_exif(orientation)));
            }
            Some(jpeg.encoder().bytes().to_vec())
        }
        "image/png" => {
            let mut png = img_parts::png::Png::from_bytes(input).ok()?;
            for kind in [*b"eXIf", *b"tEXt", *b"iTXt", *b"zTXt", *b"tIME"] {
                png.remove_chunks_by_type(kind);
            }
            Some(png.encoder().bytes().to_vec())
        }
        "image/webp" => {
            let mut webp = img_parts::webp::WebP::from_bytes(input).ok()?;
            webp.set_exif(None);
            webp.remove_chunks_by_id(*b"XMP ");
            let icc = webp.icc_profile();
            webp.set_icc_profile(icc);
            Some(webp.encoder().bytes().to_vec())
        }
        _ => None,
    }
}

/// A big-endian TIFF holding one IFD entry: Orientation (0x0112, SHORT) = `orientation`.
fn orientation_only_exif(orientation: Orientation) -> Bytes {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian, first IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&(orientation.to_exif() as u16).to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    Bytes::from(tiff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_cover_and_never_upscale() {
        assert_eq!(fit_size(4000, 3000, 800), (800, 600));
        assert_eq!(fit_size(300, 200, 800), (300, 200));
        assert_eq!(fit_size(1000, 4000, 400), (100, 400));
        assert_eq!(cover_size(4000, 3000, 150), (150, 150));
        assert_eq!(cover_size(100, 300, 150), (100, 100));
    }

    #[test]
    fn orientation_only_exif_reads_back() {
        for o in [
            Orientation::Rotate90,
            Orientation::FlipHorizontal,
            Orientation::Rotate270,
        ] {
            let exif = orientation_only_exif(o);
            assert_eq!(Orientation::from_exif_chunk(&exif), Some(o));
        }
    }
}
