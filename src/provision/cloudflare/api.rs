//! The Cloudflare API endpoints molt uses, each a thin typed call: token verification, R2
//! buckets, API tokens (R2 S3 credentials), the workers.dev subdomain, Access applications and
//! policies, Worker secrets, and Workers tail sessions.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Cloudflare, CloudflareError, codes};
use crate::core::secret::Secret;

#[derive(Debug, Clone, Deserialize)]
pub struct TokenStatus {
    pub id: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct R2Bucket {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PermissionGroup {
    pub id: String,
    pub name: String,
}

/// A new API token; `value` is shown by the API once, at creation.
#[derive(Deserialize)]
pub struct CreatedToken {
    pub id: String,
    value: String,
}

impl CreatedToken {
    pub fn value(&self) -> Secret {
        Secret::new(self.value.clone())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccessApp {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub aud: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccessPolicy {
    pub id: String,
    pub name: String,
    pub decision: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecretInfo {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TailSession {
    pub id: String,
    pub url: String,
}

#[derive(Deserialize)]
struct Subdomain {
    subdomain: String,
}

#[derive(Deserialize)]
struct Account {
    name: String,
}

#[derive(Deserialize)]
struct Organization {
    auth_domain: String,
}

impl Cloudflare {
    pub async fn verify_token(&self) -> Result<TokenStatus, CloudflareError> {
        self.get("/user/tokens/verify").await
    }

    /// The account's name.
    pub async fn account(&self) -> Result<String, CloudflareError> {
        let account: Account = self.get(&self.account_path("")).await?;
        Ok(account.name)
    }

    /// `None` when the bucket does not exist.
    pub async fn bucket(&self, name: &str) -> Result<Option<R2Bucket>, CloudflareError> {
        match self.get(&self.account_path(&format!("/r2/buckets/{name}"))).await {
            Ok(bucket) => Ok(Some(bucket)),
            Err(error) if error.has_code(codes::NO_SUCH_BUCKET) || error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn create_bucket(&self, name: &str) -> Result<R2Bucket, CloudflareError> {
        self.send(Method::POST, &self.account_path("/r2/buckets"), &json!({ "name": name })).await
    }

    pub async fn permission_groups(&self) -> Result<Vec<PermissionGroup>, CloudflareError> {
        self.get("/user/tokens/permission_groups").await
    }

    /// A user API token allowed `permission_group` on one bucket, for R2's S3 API.
    pub async fn create_bucket_token(
        &self,
        name: &str,
        bucket: &str,
        permission_group: &str,
    ) -> Result<CreatedToken, CloudflareError> {
        let resource = format!("com.cloudflare.edge.r2.bucket.{}_default_{bucket}", self.account_id);
        let body = json!({
            "name": name,
            "policies": [{
                "effect": "allow",
                "resources": { resource: "*" },
                "permission_groups": [{ "id": permission_group }],
            }],
        });
        self.send(Method::POST, "/user/tokens", &body).await
    }

    /// The account's `<name>.workers.dev` subdomain; `None` when none was chosen yet.
    pub async fn workers_subdomain(&self) -> Result<Option<String>, CloudflareError> {
        match self.get::<Subdomain>(&self.account_path("/workers/subdomain")).await {
            Ok(found) if found.subdomain.is_empty() => Ok(None),
            Ok(found) => Ok(Some(found.subdomain)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn create_workers_subdomain(&self, name: &str) -> Result<String, CloudflareError> {
        let created: Subdomain =
            self.send(Method::PUT, &self.account_path("/workers/subdomain"), &json!({ "subdomain": name })).await?;
        Ok(created.subdomain)
    }

    pub async fn access_apps(&self) -> Result<Vec<AccessApp>, CloudflareError> {
        self.get(&self.account_path("/access/apps")).await
    }

    /// A `self_hosted` application covering `uris` (the first is its domain).
    pub async fn create_access_app(&self, name: &str, uris: &[String]) -> Result<AccessApp, CloudflareError> {
        let body = json!({
            "name": name,
            "type": "self_hosted",
            "domain": uris.first().cloned().unwrap_or_default(),
            "destinations": uris.iter().map(|uri| json!({ "type": "public", "uri": uri })).collect::<Vec<_>>(),
            "session_duration": "24h",
            "app_launcher_visible": false,
        });
        self.send(Method::POST, &self.account_path("/access/apps"), &body).await
    }

    pub async fn access_policies(&self, app_id: &str) -> Result<Vec<AccessPolicy>, CloudflareError> {
        self.get(&self.account_path(&format!("/access/apps/{app_id}/policies"))).await
    }

    /// `decision` is `allow` (for `emails`) or `bypass` (for everyone).
    pub async fn create_access_policy(
        &self,
        app_id: &str,
        name: &str,
        decision: &str,
        emails: &[String],
    ) -> Result<AccessPolicy, CloudflareError> {
        let include: Vec<Value> = if decision == "bypass" {
            vec![json!({ "everyone": {} })]
        } else {
            emails.iter().map(|email| json!({ "email": { "email": email } })).collect()
        };
        let body = json!({ "name": name, "decision": decision, "include": include, "precedence": 1 });
        self.send(Method::POST, &self.account_path(&format!("/access/apps/{app_id}/policies")), &body).await
    }

    /// The Zero Trust team domain (`<team>.cloudflareaccess.com`).
    pub async fn access_team_domain(&self) -> Result<String, CloudflareError> {
        let organization: Organization = self.get(&self.account_path("/access/organizations")).await?;
        Ok(organization.auth_domain)
    }

    /// Names of the Worker's secrets; `None` when the Worker does not exist yet.
    pub async fn worker_secrets(&self, script: &str) -> Result<Option<Vec<SecretInfo>>, CloudflareError> {
        match self.get(&self.account_path(&format!("/workers/scripts/{script}/secrets"))).await {
            Ok(list) => Ok(Some(list)),
            Err(error) if error.has_code(codes::NOT_FOUND) || error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sets one secret; the value travels only in the request body.
    pub async fn put_worker_secret(&self, script: &str, name: &str, value: &Secret) -> Result<(), CloudflareError> {
        let body = json!({ "name": name, "text": value.expose(), "type": "secret_text" });
        let _: Value =
            self.send(Method::PUT, &self.account_path(&format!("/workers/scripts/{script}/secrets")), &body).await?;
        Ok(())
    }

    /// A tail session; `filters` is `{"filters": [...]}` as the API takes it.
    pub async fn create_tail(&self, script: &str, filters: &Value) -> Result<TailSession, CloudflareError> {
        self.send(Method::POST, &self.account_path(&format!("/workers/scripts/{script}/tails")), filters).await
    }

    pub async fn delete_tail(&self, script: &str, id: &str) -> Result<(), CloudflareError> {
        let path = self.account_path(&format!("/workers/scripts/{script}/tails/{id}"));
        let _: Value = self.delete(&path).await?;
        Ok(())
    }
}
