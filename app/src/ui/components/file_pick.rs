//! Reading the file just picked in a file input: from the event where the platform
//! gives its bytes (the desktop window, the phone web app), else read by the page
//! itself (browser mode, whose events carry only the file's name). The Import screen
//! and attachments both read files this way.

use base64::Engine;
use dioxus::prelude::*;

/// A picked file: its name, the type the platform gave it (if any) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickedFile {
    pub name: String,
    pub media_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Why a picked file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickError {
    /// Larger than the limit asked for: this many bytes (it was not read).
    TooLarge(u64),
    Unreadable(String),
}

/// Reads the picked file in the page: resolves to JSON `{name, type, data}` (data in
/// base64), "" when nothing is picked, or "!" and the size of a file over `LIMIT`
/// (which is not read).
const READ_PICKED_FILE: &str = r#"
const file = document.getElementById('INPUT_ID')?.files?.[0];
if (!file) return '';
if (file.size > LIMIT) return '!' + file.size;
const bytes = new Uint8Array(await file.arrayBuffer());
let binary = '';
for (let i = 0; i < bytes.length; i += 0x8000) {
  binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
}
return JSON.stringify({ name: file.name, type: file.type, data: btoa(binary) });
"#;

#[derive(serde::Deserialize)]
struct ReadInPage {
    name: String,
    #[serde(rename = "type")]
    media_type: String,
    data: String,
}

/// The file just picked in the input of id `input_id`, at most `limit` bytes.
pub async fn picked_file(
    evt: &FormEvent,
    input_id: &str,
    limit: u64,
) -> Result<Option<PickedFile>, PickError> {
    let unreadable = |e: String| PickError::Unreadable(format!("cannot read the chosen file: {e}"));
    if let Some(file) = evt.files().into_iter().next() {
        if file.size() > limit {
            return Err(PickError::TooLarge(file.size()));
        }
        if let Ok(bytes) = file.read_bytes().await {
            return Ok(Some(PickedFile {
                name: file.name(),
                media_type: file.content_type().filter(|t| !t.is_empty()),
                bytes: bytes.to_vec(),
            }));
        }
    }
    let script = READ_PICKED_FILE
        .replace("LIMIT", &limit.to_string())
        .replace("INPUT_ID", input_id);
    let answer: String = document::eval(&script)
        .join()
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    if answer.is_empty() {
        return Ok(None);
    }
    if let Some(size) = answer.strip_prefix('!') {
        return Err(PickError::TooLarge(size.parse().unwrap_or(u64::MAX)));
    }
    let read: ReadInPage = serde_json::from_str(&answer).map_err(|e| unreadable(e.to_string()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(read.data)
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(Some(PickedFile {
        name: read.name,
        media_type: Some(read.media_type).filter(|t| !t.is_empty()),
        bytes,
    }))
}
