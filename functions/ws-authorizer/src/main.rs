//! Lambda entry point; the handler is in the library.

#[tokio::main]
async fn main() -> Result<(), banter_lambda::Error> {
    banter_lambda::run(fn_ws_authorizer::USES, fn_ws_authorizer::handle).await
}
