//! Polls (`V47`): a poll message's question and answers, and who chose which answer.

use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use crate::api::models::{ExportPollVote, PollOptionResult, Timestamp};
use crate::error::ApiError;

/// A poll as its message stores it (`content::check` made its shape).
pub struct Poll {
    pub question: String,
    pub options: Vec<String>,
    pub multiple_answers: bool,
}

/// The poll message `message_id` is (none if it is another type, or deleted for everyone).
pub async fn poll(client: &impl GenericClient, message_id: Uuid) -> Result<Option<Poll>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT content, metadata FROM messages
             WHERE id = $1 AND type = 'poll' AND NOT deleted_for_everyone",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&message_id]).await? else {
        return Ok(None);
    };
    let metadata: Value = row.get("metadata");
    let options = metadata["options"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Poll {
        question: row.get::<_, Option<String>>("content").unwrap_or_default(),
        options,
        multiple_answers: metadata["multipleAnswers"].as_bool().unwrap_or(false),
    }))
}

/// Make `user`'s answers `options` (distinct, in range), keeping when each was first chosen.
/// The answers dropped are withdrawn, and kept only if a former member who kept the chat left
/// while they stood (`V53`). Whether anything changed.
pub async fn set_votes(
    client: &impl GenericClient,
    message_id: Uuid,
    user: Uuid,
    options: &[u8],
) -> Result<bool, ApiError> {
    let mut wanted: Vec<i16> = options.iter().map(|&o| i16::from(o)).collect();
    wanted.sort_unstable();
    if voted_for(client, message_id, user).await? == wanted {
        return Ok(false);
    }
    let stmt = client
        .prepare_cached(
            "WITH taken_back AS (
                 UPDATE poll_votes SET withdrawn_at = now()
                 WHERE message_id = $1 AND user_id = $2 AND withdrawn_at IS NULL
                   AND option_index <> ALL ($3::smallint[]))
             INSERT INTO poll_votes (message_id, user_id, option_index)
             SELECT $1, $2, o FROM unnest($3::smallint[]) o
             ON CONFLICT (message_id, user_id, option_index) WHERE withdrawn_at IS NULL
             DO NOTHING",
        )
        .await?;
    client
        .execute(&stmt, &[&message_id, &user, &wanted])
        .await?;
    let prune = client
        .prepare_cached(&format!(
            "DELETE FROM poll_votes v
             WHERE v.message_id = $1 AND v.user_id = $2 AND v.withdrawn_at IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM chat_participants p
                   WHERE p.chat_id = (SELECT chat_id FROM messages WHERE id = $1)
                     AND p.left_at >= v.voted_at AND p.left_at < v.withdrawn_at AND {})",
            super::reads_the_chat("p")
        ))
        .await?;
    client.execute(&prune, &[&message_id, &user]).await?;
    Ok(true)
}

/// `user`'s answers to a poll, in order.
async fn voted_for(
    client: &impl GenericClient,
    message_id: Uuid,
    user: Uuid,
) -> Result<Vec<i16>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT option_index FROM poll_votes
             WHERE message_id = $1 AND user_id = $2 AND withdrawn_at IS NULL
             ORDER BY option_index",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&message_id, &user])
        .await?
        .iter()
        .map(|r| r.get("option_index"))
        .collect())
}

/// A poll's answers with their votes, and how many members voted, as `viewer` sees them: as
/// they are, or, for a former member who kept the chat, as they stood when they left. The
/// counts are everyone's, as every member's `message:poll:voted` says them; who voted leaves
/// out someone the viewer blocked when they voted, as their reactions are left out.
pub async fn results(
    client: &impl GenericClient,
    message_id: Uuid,
    poll: &Poll,
    viewer: Uuid,
) -> Result<(Vec<PollOptionResult>, i64), ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "WITH seen AS (
                 SELECT p.left_at AS as_of FROM messages m
                 JOIN chat_participants p ON p.chat_id = m.chat_id AND p.user_id = $2
                 WHERE m.id = $1
             ), counted AS (
                 SELECT v.option_index, v.user_id, v.voted_at
                 FROM poll_votes v LEFT JOIN seen ON true
                 WHERE v.message_id = $1
                   AND CASE WHEN seen.as_of IS NULL THEN v.withdrawn_at IS NULL
                            ELSE v.voted_at <= seen.as_of
                                 AND (v.withdrawn_at IS NULL OR v.withdrawn_at > seen.as_of) END
             )
             SELECT v.option_index, count(*) AS votes,
                    coalesce(array_agg(v.user_id ORDER BY v.voted_at, v.user_id) FILTER (WHERE {shown}),
                             '{{}}') AS voters,
                    (SELECT count(DISTINCT user_id) FROM counted) AS voted
             FROM counted v
             GROUP BY v.option_index",
            shown = super::not_sent_while_blocked("$2", "v.user_id", "v.voted_at"),
        ))
        .await?;
    let mut options: Vec<PollOptionResult> = poll
        .options
        .iter()
        .enumerate()
        .map(|(index, text)| PollOptionResult {
            index: index as u8,
            text: text.clone(),
            votes: 0,
            voter_ids: Vec::new(),
        })
        .collect();
    let mut voted = 0;
    for row in client.query(&stmt, &[&message_id, &viewer]).await? {
        let index: i16 = row.get("option_index");
        voted = row.get("voted");
        if let Some(option) = options.get_mut(index as usize) {
            option.votes = row.get("votes");
            option.voter_ids = row.get("voters");
        }
    }
    Ok((options, voted))
}

/// The votes `user` cast (in polls still there), newest first.
pub async fn cast_by(
    client: &impl GenericClient,
    user: Uuid,
) -> Result<Vec<ExportPollVote>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT m.chat_id, v.message_id, array_agg(v.option_index ORDER BY v.option_index) AS options,
                    max(v.voted_at) AS voted_at
             FROM poll_votes v JOIN messages m ON m.id = v.message_id
             WHERE v.user_id = $1 AND v.withdrawn_at IS NULL
             GROUP BY m.chat_id, v.message_id ORDER BY voted_at DESC",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&user])
        .await?
        .iter()
        .map(|r| ExportPollVote {
            chat_id: r.get("chat_id"),
            message_id: r.get("message_id"),
            options: r
                .get::<_, Vec<i16>>("options")
                .into_iter()
                .map(|o| o as u8)
                .collect(),
            voted_at: Timestamp(r.get("voted_at")),
        })
        .collect())
}
