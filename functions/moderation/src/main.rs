//! Lambda entry point; the handler is in the library.

#[tokio::main]
async fn main() -> Result<(), banter_lambda::Error> {
    banter_lambda::run(fn_moderation::USES, fn_moderation::handle).await
}
