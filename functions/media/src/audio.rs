//! Audio: Opus at 128 kbit/s and 48 kHz (in Ogg), the duration, and a waveform: 300 peaks
//! (0-255, in the file's metadata) and a 300x60 PNG of them.

use std::path::Path;
use std::time::Duration;

use crate::tools::{run, ToolFailure};

const LIMIT: Duration = Duration::from_secs(300);
/// Peaks in a waveform, and its picture's size.
pub const PEAKS: usize = 300;
const PICTURE_HEIGHT: u32 = 60;
/// The PRD's waveform colour, #4CAF50.
const COLOUR: [u8; 4] = [0x4C, 0xAF, 0x50, 0xFF];

/// Encode to Ogg Opus.
pub async fn to_opus(input: &Path, output: &Path) -> Result<(), ToolFailure> {
    run(
        "ffmpeg",
        [
            "-nostdin".as_ref(),
            "-v".as_ref(),
            "error".as_ref(),
            "-y".as_ref(),
            "-i".as_ref(),
            input.as_os_str(),
            "-vn".as_ref(),
            "-map_metadata".as_ref(),
            "-1".as_ref(),
            "-c:a".as_ref(),
            "libopus".as_ref(),
            "-b:a".as_ref(),
            "128k".as_ref(),
            "-ar".as_ref(),
            "48000".as_ref(),
            output.as_os_str(),
        ],
        LIMIT,
    )
    .await
    .map(|_| ())
}

/// The waveform's peaks: the file decoded to 8 kHz mono 16-bit samples, cut into 300 equal
/// spans, each span's loudest sample scaled to 0-255.
pub async fn peaks(input: &Path) -> Result<Vec<u8>, ToolFailure> {
    let pcm = run(
        "ffmpeg",
        [
            "-nostdin".as_ref(),
            "-v".as_ref(),
            "error".as_ref(),
            "-i".as_ref(),
            input.as_os_str(),
            "-vn".as_ref(),
            "-ac".as_ref(),
            "1".as_ref(),
            "-ar".as_ref(),
            "8000".as_ref(),
            "-f".as_ref(),
            "s16le".as_ref(),
            "-".as_ref(),
        ],
        LIMIT,
    )
    .await?;
    Ok(peaks_of(&pcm))
}

/// 300 peaks of little-endian 16-bit samples.
pub fn peaks_of(pcm: &[u8]) -> Vec<u8> {
    let samples: Vec<u16> = pcm
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
        .collect();
    (0..PEAKS)
        .map(|i| {
            let start = i * samples.len() / PEAKS;
            let end = ((i + 1) * samples.len() / PEAKS).max(start);
            let peak = samples[start..end].iter().copied().max().unwrap_or(0) as u32;
            (peak * 255 / 32768) as u8
        })
        .collect()
}

/// The peaks drawn as a 300x60 PNG: one centred bar per peak on a transparent background.
pub fn picture(peaks: &[u8]) -> Vec<u8> {
    let width = peaks.len().max(1) as u32;
    let mut image = image::RgbaImage::new(width, PICTURE_HEIGHT);
    for (x, peak) in peaks.iter().enumerate() {
        let bar = ((*peak as u32 * PICTURE_HEIGHT) / 255).max(1);
        let top = (PICTURE_HEIGHT - bar) / 2;
        for y in top..top + bar {
            image.put_pixel(x as u32, y, image::Rgba(COLOUR));
        }
    }
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("a PNG encodes in memory");
    png
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_follow_loudness() {
        // First half silent, second half at full scale.
        let mut pcm = vec![0u8; 8000 * 2];
        for s in pcm[8000..].chunks_exact_mut(2) {
            s.copy_from_slice(&i16::MAX.to_le_bytes());
        }
        let peaks = peaks_of(&pcm);
        assert_eq!(peaks.len(), 300);
        assert_eq!(peaks[0], 0);
        assert!(peaks[299] >= 254);
        assert_eq!(peaks_of(&[]).len(), 300, "silence too has 300 peaks");
        let png = picture(&peaks);
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (300, 60));
    }
}
