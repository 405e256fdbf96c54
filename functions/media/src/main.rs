//! Lambda entry point of the media image: the S3-triggered processing (the handler is in the
//! library), or, with `MEDIA_TASK=update-signatures`, the scheduled ClamAV signature update.

#[tokio::main]
async fn main() -> Result<(), banter_lambda::Error> {
    if std::env::var("MEDIA_TASK").as_deref() == Ok("update-signatures") {
        banter_lambda::run(fn_media::USES, fn_media::signatures::update).await
    } else {
        banter_lambda::run(fn_media::USES, fn_media::handle).await
    }
}
