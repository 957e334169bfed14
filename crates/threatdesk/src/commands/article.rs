//! `threatdesk article`: the main article of a saved web page.

use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use threatdesk_text::Article;

use crate::EXIT_OK;
use crate::cli::{ArticleArgs, Format, GlobalArgs};
use crate::output::print_json;

#[derive(Serialize)]
struct ArticleOutput<'a> {
    source: &'a str,
    #[serde(flatten)]
    article: &'a Article,
}

pub fn run(global: &GlobalArgs, args: ArticleArgs) -> anyhow::Result<ExitCode> {
    let bytes = super::read_input(&args.path)?;
    let decoded = threatdesk_text::decode(&bytes);
    if let Some(note) = decoded.note() {
        eprintln!("threatdesk: note: {}: {note}", args.path);
    }
    let article = threatdesk_text::extract_article(&decoded.text, args.url.as_deref())
        .with_context(|| format!("{}: no article", args.path))?;
    if global.format != Format::Text {
        print_json(&ArticleOutput {
            source: &args.path,
            article: &article,
        })?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if let Some(title) = &article.title {
        crate::outln!("{title}");
    }
    let byline: Vec<String> = [article.author.clone(), article.published.map(|d| d.to_rfc3339())]
        .into_iter()
        .flatten()
        .collect();
    if !byline.is_empty() {
        crate::outln!("{}", byline.join(" · "));
    }
    crate::outln!("\n{}", article.text);
    Ok(ExitCode::from(EXIT_OK))
}
