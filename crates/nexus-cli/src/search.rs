//! `nexus search`: search over what the caller may read, on a data directory or a server.

use nexus_api::search::{Consistency, ConsistencyLevel, SearchFilters, SearchMode, SearchRequest};
use nexus_core::ErrorCode;

use crate::cli::{SearchArgs, SearchCommand};
use crate::commands::Session;
use crate::output::{CliError, print_json, write_stdout};

impl Session {
    pub(crate) async fn search(&self, args: SearchArgs) -> Result<(), CliError> {
        if let Some(SearchCommand::Reindex { org }) = &args.command {
            let org = self.org(org).await?;
            let report = self.target.client().search_reindex(&org).await?;
            if self.printer.json {
                return print_json(&report);
            }
            return write_stdout(
                format!(
                    "rebuilt the search index of {}: {} documents\n",
                    report.org, report.documents
                )
                .as_bytes(),
            );
        }
        let org = self.org(&args.org).await?;
        let mode = args
            .mode
            .as_deref()
            .map(str::parse::<SearchMode>)
            .transpose()
            .map_err(|error| CliError::new(ErrorCode::InvalidInput, format!("--mode: {error}")))?;
        let request = SearchRequest {
            query: args.query.join(" "),
            mode,
            filters: SearchFilters {
                path_prefix: args.path,
                env: args.env,
                scope: args.scope,
                kind: args.kind,
                author: args.author,
                since: args.since,
                until: args.until,
            },
            limit: Some(args.limit),
            cursor: args.cursor,
            consistency: args
                .consistent
                .then_some(Consistency::Level(ConsistencyLevel::FullyConsistent)),
            explain: args.why,
        };
        let response = self.target.client().search(&org, &request).await?;
        if self.printer.json {
            print_json(&response)?;
        } else {
            let mut out = String::new();
            if let Some(notice) = &response.notice {
                out.push_str(&format!("note: {notice}\n"));
            }
            for hit in &response.hits {
                let place = hit.key.as_deref().unwrap_or(&hit.path);
                out.push_str(&format!("{:.3}\t{place}\n", hit.score));
                let snippet = hit.snippet.split_whitespace().collect::<Vec<_>>().join(" ");
                if !snippet.is_empty() {
                    out.push_str(&format!("\t{snippet}\n"));
                }
                if let Some(why) = &hit.why {
                    out.push_str(&format!("\twhy: {}\n", why.join(", ")));
                }
            }
            out.push_str(&format!(
                "{} of {} shown{}{}\n",
                response.hits.len(),
                response.total,
                if response.approximate {
                    " (approximate: of the nearest found)"
                } else {
                    ""
                },
                response
                    .next_cursor
                    .as_deref()
                    .map(|cursor| format!(" (more: --cursor {cursor})"))
                    .unwrap_or_default()
            ));
            write_stdout(out.as_bytes())?;
        }
        // Nothing found exits 3, with or without `--json`, like `grep`.
        if response.total == 0 {
            return Err(CliError::new(
                ErrorCode::NotFound,
                format!("nothing you may read matches `{}`", request.query),
            ));
        }
        Ok(())
    }
}
