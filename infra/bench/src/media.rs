//! `--media`: the media pipeline's own work, without the stack. A 12-megapixel JPEG through
//! the picture pipeline (the variants and the stripped original), time and peak memory, beside
//! libvips' `vipsthumbnail` (what the PRD's sharp is built on) on the same file, each run in a
//! process of its own under `/usr/bin/time`; pictures per second on one core; and a 30 s
//! 1080p clip through the video pipeline (probe, frame, the three renditions).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use banter_core::ports::UrlValidity;
use rand::{Rng, SeedableRng};

const RUNS: usize = 5;

/// `banter-bench --media-image <file>`: one run of the picture pipeline, in this process (what
/// the parent times and measures).
pub fn image_once(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path)?;
    let processed = fn_media::images::process(&bytes, "image/jpeg")?;
    let sizes: Vec<String> = processed
        .variants
        .iter()
        .map(|v| format!("{} {}x{} {} B", v.name, v.width, v.height, v.bytes.len()))
        .collect();
    eprintln!("{}", sizes.join(", "));
    Ok(())
}

/// What handing out a file's URLs through the media CDN costs: one RSA-2048 signature per
/// file (`banter_core::media_cdn`), with the tests' key.
fn cdn_signing() {
    const FILES: u32 = 500;
    let key = include_str!("../../../shared/core/data/media-cdn-test-key.pem");
    let cdn = banter_core::media_cdn::MediaCdn::new("https://d1.cloudfront.net", "K1", key)
        .expect("the tests' key");
    let files: Vec<uuid::Uuid> = (0..FILES).map(|_| uuid::Uuid::now_v7()).collect();
    let sign_all = || {
        let started = std::time::Instant::now();
        for file in &files {
            let keys = [
                format!("uploads/u/{file}.jpg"),
                format!("processed/{file}/thumbnail.webp"),
                format!("processed/{file}/medium.webp"),
                format!("processed/{file}/large.webp"),
            ];
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let valid = UrlValidity::shared(chrono::Utc::now(), Duration::from_secs(3600));
            std::hint::black_box(cdn.signed_urls(*file, &keys, valid.until()));
        }
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(FILES)
    };
    let signed = sign_all();
    let again = sign_all();
    println!(
        "\n[media CDN] a picture's four signed URLs (one RSA-2048 signature), {FILES} files: {signed:.3} ms per file; \
         the same files again within the expiry period (memo): {again:.4} ms per file"
    );
}

pub async fn run() -> Result<()> {
    cdn_signing();
    let dir = tempfile::tempdir()?;
    let photo = dir.path().join("photo-12mp.jpg");
    std::fs::write(&photo, photo_like_jpeg(4000, 3000)?)?;
    let size = std::fs::metadata(&photo)?.len();
    println!(
        "\n[pictures] a 4000x3000 (12 MP) JPEG, {:.1} MB, {RUNS} runs each, median",
        size as f64 / 1e6
    );

    let me = std::env::current_exe()?;
    let ours = timed(RUNS, || {
        let mut c = Command::new(&me);
        c.arg("--media-image").arg(&photo);
        c
    })?;
    println!(
        "  banter (thumbnail 150 cover, medium 400, large 800 WebP q80, original stripped): {:.0} ms, peak {:.0} MB",
        ours.0 * 1000.0,
        ours.1
    );
    let vips_one = timed(RUNS, || vips(&photo, dir.path(), "800", "large"))?;
    println!(
        "  vipsthumbnail -s 800 (one WebP q80):                                             {:.0} ms, peak {:.0} MB",
        vips_one.0 * 1000.0,
        vips_one.1
    );
    let mut vips_three = (0.0, 0.0f64);
    for (edge, name) in [("150x150", "thumb"), ("400", "medium"), ("800", "large")] {
        let (t, m) = timed(RUNS, || {
            let mut c = vips(&photo, dir.path(), edge, name);
            if edge.contains('x') {
                c.args(["--smartcrop", "centre"]);
            }
            c
        })?;
        vips_three = (vips_three.0 + t, vips_three.1.max(m));
    }
    println!(
        "  vipsthumbnail x3 (the same three sizes, three runs):                            {:.0} ms, peak {:.0} MB",
        vips_three.0 * 1000.0,
        vips_three.1
    );
    println!(
        "  banter / vips (three sizes) = {:.2}x time, {:.2}x memory; / vips (one size) = {:.2}x time",
        ours.0 / vips_three.0,
        ours.1 / vips_three.1,
        ours.0 / vips_one.0
    );

    // Pictures per second on one core, in process (no process start).
    for (w, h) in [(4000, 3000), (2000, 1500)] {
        let bytes = photo_like_jpeg(w, h)?;
        let n = 10;
        let start = Instant::now();
        for _ in 0..n {
            fn_media::images::process(&bytes, "image/jpeg")?;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "  one core, {:.0} MP: {rate:.1} pictures/s",
            (w * h) as f64 / 1e6
        );
    }

    // Video.
    let clip = dir.path().join("clip-1080p.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30:duration=30",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=30"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&clip)
        .status()?;
    if !made.success() {
        bail!("ffmpeg could not make the test clip");
    }
    println!(
        "\n[video] a 30 s 1920x1080 30 fps clip, {:.1} MB",
        std::fs::metadata(&clip)?.len() as f64 / 1e6
    );
    let total = Instant::now();
    let start = Instant::now();
    let probe = fn_media::video::probe(&clip).await?;
    println!(
        "  probe: {:.0} ms ({:?} ms)",
        start.elapsed().as_secs_f64() * 1000.0,
        probe.duration_ms
    );
    let start = Instant::now();
    fn_media::video::thumbnail_frame(&clip, probe.duration_ms).await?;
    println!(
        "  320x180 frame: {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let audio = fn_media::video::rendition_audio(&probe);
    for (lines, bitrate) in fn_media::video::renditions_for(1920, 1080, probe.video_bitrate) {
        let out = dir.path().join(format!("{lines}.mp4"));
        let start = Instant::now();
        fn_media::video::transcode(&clip, &out, true, lines, bitrate, audio).await?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "  {lines}p H.264 {} kb/s + AAC: {secs:.1} s ({:.2}x real time), {:.1} MB",
            bitrate / 1000,
            30.0 / secs,
            std::fs::metadata(&out)?.len() as f64 / 1e6
        );
    }
    println!(
        "  whole pipeline: {:.1} s for 30 s of video",
        total.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `vipsthumbnail` to a WebP at quality 80.
fn vips(photo: &Path, dir: &Path, size: &str, name: &str) -> Command {
    let mut c = Command::new("vipsthumbnail");
    c.arg(photo)
        .args(["-s", size, "-o"])
        .arg(format!("{}/{name}.webp[Q=80,strip]", dir.display()));
    c
}

/// The median wall time (s) and the peak resident memory (MB) of `runs` runs of a command,
/// each under GNU time.
fn timed(runs: usize, command: impl Fn() -> Command) -> Result<(f64, f64)> {
    let mut times = Vec::new();
    let mut peak = 0.0f64;
    for _ in 0..runs {
        let inner = command();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%e %M"])
            .arg(inner.get_program())
            .args(inner.get_args())
            .output()
            .context("/usr/bin/time (Debian's `time` package)")?;
        if !out.status.success() {
            bail!(
                "{:?} failed: {}",
                inner.get_program(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        let mut fields = last.split_whitespace();
        let secs: f64 = fields.next().unwrap_or("0").parse()?;
        let kb: f64 = fields.next().unwrap_or("0").parse()?;
        times.push(secs);
        peak = peak.max(kb / 1024.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[times.len() / 2], peak))
}

/// A JPEG at quality 90 with a photo's entropy: smooth light and colour with sensor-like noise.
fn photo_like_jpeg(w: u32, h: u32) -> Result<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let picture = image::RgbImage::from_fn(w, h, |x, y| {
        let base = [
            (x * 255 / w) as i32,
            (y * 255 / h) as i32,
            (((x + y) / 7) % 255) as i32,
        ];
        let noise: i32 = rng.gen_range(-18..=18);
        image::Rgb(base.map(|c| (c + noise).clamp(0, 255) as u8))
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&picture)?;
    Ok(out)
}
