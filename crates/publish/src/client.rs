//! The connection to a bucket: target parsing, credentials, and errors that say what to do.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig};

use crate::PublishError;

/// `s3://BUCKET/PREFIX`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub bucket: String,
    /// Without leading or trailing slashes; may be empty.
    pub prefix: String,
}

impl std::str::FromStr for Target {
    type Err = PublishError;
    fn from_str(s: &str) -> Result<Target, PublishError> {
        let bad = |why: &str| PublishError::Invalid(format!("'{s}' is not a target like s3://my-bucket/videos: {why}"));
        let rest = s.strip_prefix("s3://").ok_or_else(|| bad("it must start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let ok_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok_bucket {
            return Err(bad("a bucket name is 3 to 63 lowercase letters, digits, dots or hyphens"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == ".." || p == "." || (p.is_empty() && !prefix.is_empty())) || prefix.chars().any(char::is_control) {
            return Err(bad("the prefix must be plain folder names"));
        }
        Ok(Target { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Where the access key comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Credentials {
    /// As every AWS tool: the environment, else `$AWS_PROFILE` (or `default`) in the shared
    /// credentials file.
    #[default]
    Default,
    /// A named section of the shared credentials file (`~/.aws/credentials`).
    Profile(String),
    /// Given directly (the app keeps them in an owner-only file).
    Keys { access_key: String, secret_key: String },
}

/// Access key and secret: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`),
/// else the `[AWS_PROFILE or default]` section of `~/.aws/credentials` (or
/// `$AWS_SHARED_CREDENTIALS_FILE`), as every AWS tool reads them; or what `how` names.
fn credentials(how: &Credentials) -> Result<(String, String, Option<String>), PublishError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let profile = match how {
        Credentials::Keys { access_key, secret_key } => {
            if access_key.trim().is_empty() || secret_key.trim().is_empty() {
                return Err(PublishError::Invalid("the S3 access key and secret must both be given".into()));
            }
            return Ok((access_key.trim().to_string(), secret_key.trim().to_string(), None));
        }
        Credentials::Profile(p) => p.clone(),
        Credentials::Default => {
            if let (Some(k), Some(s)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                return Ok((k, s, env("AWS_SESSION_TOKEN")));
            }
            env("AWS_PROFILE").unwrap_or_else(|| "default".into())
        }
    };
    let file = env("AWS_SHARED_CREDENTIALS_FILE").map(std::path::PathBuf::from).or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials")));
    if let Some(text) = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) {
        let (mut section, mut key, mut secret, mut token) = (String::new(), None, None, None);
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
            } else if section == profile {
                if let Some((k, v)) = line.split_once('=') {
                    let v = v.trim().to_string();
                    match k.trim() {
                        "aws_access_key_id" => key = Some(v),
                        "aws_secret_access_key" => secret = Some(v),
                        "aws_session_token" => token = Some(v),
                        _ => {}
                    }
                }
            }
        }
        if let (Some(k), Some(s)) = (key, secret) {
            return Ok((k, s, token));
        }
    }
    if let Credentials::Profile(p) = how {
        return Err(PublishError::Invalid(format!("no profile '{p}' with an access key and secret in ~/.aws/credentials; check the profile name")));
    }
    Err(PublishError::Invalid("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in ~/.aws/credentials".into()))
}

/// A bucket, ready to use from synchronous code (it owns a small async runtime).
pub struct Client {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) store: Arc<AmazonS3>,
    pub target: Target,
    /// What the user gave, for messages.
    pub endpoint: String,
    pub region: String,
}

impl Client {
    /// `endpoint`: an S3-compatible server (`--endpoint`, else `$AWS_ENDPOINT_URL`, else AWS).
    pub fn connect(target: &Target, endpoint: Option<&str>, region: Option<&str>) -> Result<Client, PublishError> {
        Self::connect_as(target, endpoint, region, &Credentials::Default)
    }

    /// As [`Client::connect`], with the credentials `how` names.
    pub fn connect_as(target: &Target, endpoint: Option<&str>, region: Option<&str>, how: &Credentials) -> Result<Client, PublishError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = endpoint.map(str::to_string).or_else(|| env("AWS_ENDPOINT_URL")).or_else(|| env("AWS_ENDPOINT"));
        let region = region.map(str::to_string).or_else(|| env("AWS_REGION")).or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
        let (key, secret, token) = credentials(how)?;
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&target.bucket)
            .with_region(&region)
            .with_access_key_id(key)
            .with_secret_access_key(secret)
            // Failed requests (connection refused, timeouts, 5xx) are retried with exponential
            // backoff for up to a minute: a storage server that restarts does not end an upload.
            .with_retry(RetryConfig {
                backoff: object_store::BackoffConfig { init_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(4), base: 2.0 },
                max_retries: 12,
                retry_timeout: Duration::from_secs(60),
            });
        if let Some(t) = token {
            b = b.with_token(t);
        }
        let shown = match &endpoint {
            Some(e) => {
                let url = url_ok(e)?;
                b = b.with_endpoint(e.trim_end_matches('/')).with_allow_http(url.starts_with("http://")).with_virtual_hosted_style_request(false);
                e.clone()
            }
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        let store = b.build().map_err(|e| PublishError::Invalid(format!("cannot use {target} at {shown}: {e}")))?;
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| PublishError::Io(format!("cannot start the upload runtime: {e}")))?;
        Ok(Client { rt, store: Arc::new(store), target: target.clone(), endpoint: shown, region })
    }

    pub(crate) fn key(&self, rel: &str) -> Key {
        if self.target.prefix.is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.target.prefix))
        }
    }

    /// Turns a storage error into what the user should do about it.
    pub(crate) fn explain(&self, what: &str, e: object_store::Error) -> PublishError {
        let text = e.to_string();
        let t = &self.target;
        let has = |s: &str| text.contains(s);
        // object_store reports list errors as Generic with the server's XML inside; the S3
        // error codes in it are stable across implementations.
        // Kept in the message (the server's XML is cut off below): the upload restarts on it.
        if has("NoSuchUpload") {
            return PublishError::Network(format!("the storage no longer knows this upload (NoSuchUpload) while {what}"));
        }
        if has("NoSuchBucket") {
            return PublishError::NoBucket(format!("the bucket '{}' does not exist at {}; create it, or check the name and the endpoint", t.bucket, self.endpoint));
        }
        match e {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => PublishError::Denied(format!(
                "{} refused the credentials while {what} ({}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and that they may write to '{}'",
                self.endpoint,
                short(&text),
                t.bucket
            )),
            _ if has("InvalidAccessKeyId") || has("SignatureDoesNotMatch") || has("NotSignedUp") || has("AccessDenied") || has("403") => PublishError::Denied(format!(
                "{} refused the credentials while {what}; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and that they may write to '{}'",
                self.endpoint, t.bucket
            )),
            object_store::Error::NotFound { .. } => PublishError::NoBucket(format!("not found while {what} at {}: {}", self.endpoint, short(&text))),
            _ if has("connect") || has("timed out") || has("dns") || has("Connection refused") || has("retries") => PublishError::Network(format!(
                "cannot reach {} while {what} ({}); check the address and your connection, then run the same command again",
                self.endpoint,
                short(&text)
            )),
            _ => PublishError::Network(format!("{what} failed at {}: {}", self.endpoint, short(&text))),
        }
    }

    /// Checks that the bucket exists and the credentials work, before anything is uploaded.
    pub fn check(&self) -> Result<(), PublishError> {
        let prefix = (!self.target.prefix.is_empty()).then(|| self.key(""));
        let prefix = prefix.map(|p| Key::from(p.as_ref().trim_end_matches('/')));
        self.rt.block_on(self.store.list_with_delimiter(prefix.as_ref())).map(|_| ()).map_err(|e| self.explain("checking the bucket", e))
    }

    /// One small object, whole (a PUT is atomic: the old object or the new one).
    pub fn put(&self, rel: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PublishError> {
        let mut a = Attributes::new();
        a.insert(Attribute::ContentType, content_type.to_string().into());
        let opts = PutOptions { attributes: a, ..Default::default() };
        self.rt.block_on(self.store.put_opts(&self.key(rel), PutPayload::from(bytes), opts)).map(|_| ()).map_err(|e| self.explain(&format!("uploading {rel}"), e))
    }

    pub fn get(&self, rel: &str) -> Result<Vec<u8>, PublishError> {
        self.rt.block_on(async { self.store.get(&self.key(rel)).await?.bytes().await }).map(|b| b.to_vec()).map_err(|e| self.explain(&format!("reading {rel}"), e))
    }

    /// A presigned GET URL (SigV4), valid for `expires` (at most 7 days).
    pub fn presign(&self, rel: &str, expires: Duration) -> Result<String, PublishError> {
        self.rt.block_on(self.store.signed_url(object_store::signer::Method::GET, &self.key(rel), expires)).map(|u| u.to_string()).map_err(|e| self.explain("signing a link", e))
    }

    /// Deletes every object under `rel/`; returns how many.
    pub fn delete_all(&self, rel: &str) -> Result<usize, PublishError> {
        use futures_util::TryStreamExt;
        let prefix = self.key(rel.trim_end_matches('/'));
        self.rt.block_on(async {
            let keys: Vec<Key> = self.store.list(Some(&prefix)).map_ok(|m| m.location).try_collect().await.map_err(|e| self.explain("listing objects", e))?;
            for k in &keys {
                self.store.delete(k).await.map_err(|e| self.explain("deleting objects", e))?;
            }
            Ok(keys.len())
        })
    }
}

fn url_ok(e: &str) -> Result<String, PublishError> {
    let ok = (e.starts_with("http://") || e.starts_with("https://")) && e.len() > 8 && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e.to_string())
    } else {
        Err(PublishError::Invalid(format!("the endpoint '{e}' is not a URL like https://s3.example.com or http://127.0.0.1:9000")))
    }
}

/// The first line of a long error, for messages.
fn short(s: &str) -> String {
    let first = s.lines().next().unwrap_or(s);
    first.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_or_say_why_not() {
        let t: Target = "s3://my-bucket/team/videos/".parse().unwrap();
        assert_eq!((t.bucket.as_str(), t.prefix.as_str()), ("my-bucket", "team/videos"));
        assert_eq!(t.to_string(), "s3://my-bucket/team/videos");
        assert_eq!("s3://bkt".parse::<Target>().unwrap().prefix, "");
        for (bad, why) in [
            ("https://bkt/x", "start with s3://"),
            ("s3://", "bucket name"),
            ("s3://Bad_Bucket/x", "bucket name"),
            ("s3://bkt/../etc", "plain folder names"),
            ("s3://bkt/a//b", "plain folder names"),
        ] {
            let e = bad.parse::<Target>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
