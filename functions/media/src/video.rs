//! Video: ffprobe for duration, dimensions and bitrates; ffmpeg to H.264 + AAC MP4 renditions at
//! 480p, 720p and 1080p (never above the source; a smaller source gets one rendition at its own
//! size; never at a higher bitrate than the source's, so a rendition is no bigger than the file
//! it was made from) and a 320x180 thumbnail frame.

use std::path::Path;
use std::time::Duration;

use crate::tools::{run, ToolFailure};

const PROBE_LIMIT: Duration = Duration::from_secs(30);
const TRANSCODE_LIMIT: Duration = Duration::from_secs(600);

/// The renditions: the shorter side's lines, and the video bitrate in bits per second (PRD
/// `VideoProcessingJob`).
pub const RENDITIONS: [(u32, u64); 3] = [(480, 500_000), (720, 1_000_000), (1080, 2_000_000)];
/// A rendition's audio bitrate (bits per second), at most.
const AUDIO_BITRATE: u64 = 128_000;

/// What ffprobe says of a media file.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub duration_ms: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub has_video: bool,
    pub has_audio: bool,
    /// The video stream's and the audio stream's bitrates (bits per second), where the
    /// container says.
    pub video_bitrate: Option<u64>,
    pub audio_bitrate: Option<u64>,
}

/// Probe a video or audio file.
pub async fn probe(input: &Path) -> Result<Probe, ToolFailure> {
    let out = run(
        "ffprobe",
        [
            "-v".as_ref(),
            "error".as_ref(),
            "-print_format".as_ref(),
            "json".as_ref(),
            "-show_format".as_ref(),
            "-show_streams".as_ref(),
            input.as_os_str(),
        ],
        PROBE_LIMIT,
    )
    .await?;
    let json: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| ToolFailure::Failed("ffprobe".into(), e.to_string()))?;
    let mut probe = Probe {
        duration_ms: json["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok())
            .map(|s| (s * 1000.0).round() as u64),
        ..Probe::default()
    };
    for stream in json["streams"].as_array().into_iter().flatten() {
        let bitrate = stream["bit_rate"]
            .as_str()
            .and_then(|b| b.parse::<u64>().ok());
        match stream["codec_type"].as_str() {
            Some("video") if !probe.has_video => {
                probe.has_video = true;
                probe.width = stream["width"].as_u64().map(|w| w as u32);
                probe.height = stream["height"].as_u64().map(|h| h as u32);
                probe.video_bitrate = bitrate;
            }
            Some("audio") if !probe.has_audio => {
                probe.has_audio = true;
                probe.audio_bitrate = bitrate;
            }
            _ => {}
        }
    }
    Ok(probe)
}

/// The renditions a source of `width` x `height` gets: `(lines, video bitrate)`, the bitrate
/// at most the source's `video_bitrate` where it is known.
pub fn renditions_for(width: u32, height: u32, video_bitrate: Option<u64>) -> Vec<(u32, u64)> {
    let lines = width.min(height);
    let fitting: Vec<_> = RENDITIONS
        .into_iter()
        .filter(|(l, _)| *l <= lines)
        .collect();
    let renditions = if fitting.is_empty() {
        vec![(lines - lines % 2, RENDITIONS[0].1)]
    } else {
        fitting
    };
    let cap = video_bitrate.unwrap_or(u64::MAX);
    renditions
        .into_iter()
        .map(|(lines, bitrate)| (lines, bitrate.min(cap)))
        .collect()
}

/// A rendition's audio bitrate for a source probed as `probe`: at most the source's, and `None`
/// when it has no sound.
pub fn rendition_audio(probe: &Probe) -> Option<u64> {
    probe.has_audio.then(|| {
        probe
            .audio_bitrate
            .map_or(AUDIO_BITRATE, |b| b.min(AUDIO_BITRATE))
    })
}

/// Transcode to an MP4 whose shorter side is `lines`, its video at `bitrate` and its sound (if
/// any) at `audio_bitrate` (bits per second).
pub async fn transcode(
    input: &Path,
    output: &Path,
    landscape: bool,
    lines: u32,
    bitrate: u64,
    audio_bitrate: Option<u64>,
) -> Result<(), ToolFailure> {
    let bitrate = bitrate.to_string();
    let scale = if landscape {
        format!("scale=-2:{lines}")
    } else {
        format!("scale={lines}:-2")
    };
    let mut args: Vec<std::ffi::OsString> = vec![
        "-nostdin".into(),
        "-v".into(),
        "error".into(),
        "-y".into(),
        "-i".into(),
        input.into(),
        "-map_metadata".into(),
        "-1".into(),
        "-vf".into(),
        scale.into(),
        "-c:v".into(),
        "libx264".into(),
        "-preset".into(),
        "veryfast".into(),
        "-b:v".into(),
        (&bitrate).into(),
        "-maxrate".into(),
        (&bitrate).into(),
        "-bufsize".into(),
        (&bitrate).into(),
        "-pix_fmt".into(),
        "yuv420p".into(),
    ];
    if let Some(audio) = audio_bitrate {
        args.extend(["-c:a", "aac", "-b:a"].map(Into::into));
        args.push(audio.to_string().into());
    } else {
        args.push("-an".into());
    }
    args.extend(["-movflags", "+faststart"].map(Into::into));
    args.push(output.into());
    run("ffmpeg", args, TRANSCODE_LIMIT).await.map(|_| ())
}

/// A 320x180 frame (cover), as PNG, from a second in (or the middle of a shorter video).
pub async fn thumbnail_frame(
    input: &Path,
    duration_ms: Option<u64>,
) -> Result<Vec<u8>, ToolFailure> {
    let at = duration_ms.map_or(0.0, |d| (d as f64 / 2000.0).min(1.0));
    run(
        "ffmpeg",
        [
            "-nostdin".into(),
            "-v".into(),
            "error".into(),
            "-ss".into(),
            format!("{at:.3}").into(),
            "-i".into(),
            std::ffi::OsString::from(input),
            "-frames:v".into(),
            "1".into(),
            "-vf".into(),
            "scale=320:180:force_original_aspect_ratio=increase,crop=320:180".into(),
            "-f".into(),
            "image2pipe".into(),
            "-c:v".into(),
            "png".into(),
            "-".into(),
        ],
        PROBE_LIMIT,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::renditions_for;

    #[test]
    fn renditions_never_exceed_the_source() {
        let lines = |w, h| {
            renditions_for(w, h, None)
                .into_iter()
                .map(|r| r.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(1920, 1080), vec![480, 720, 1080]);
        assert_eq!(lines(1280, 720), vec![480, 720]);
        assert_eq!(
            lines(720, 1280),
            vec![480, 720],
            "portrait: the shorter side"
        );
        assert_eq!(lines(640, 360), vec![360]);
        assert_eq!(lines(3840, 2160), vec![480, 720, 1080]);
    }

    #[test]
    fn renditions_never_take_more_bits_than_the_source() {
        assert_eq!(
            renditions_for(1920, 1080, Some(800_000)),
            vec![(480, 500_000), (720, 800_000), (1080, 800_000)]
        );
        assert_eq!(renditions_for(320, 240, Some(90_000)), vec![(240, 90_000)]);
        assert_eq!(
            renditions_for(1280, 720, None),
            vec![(480, 500_000), (720, 1_000_000)],
            "unknown: the rendition's own"
        );
    }
}
