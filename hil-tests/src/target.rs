//! [`Target`]: which device the scenarios drive, and how to log in to its broker.

use std::path::PathBuf;

use altair_cloud::mqtt::{BrokerUrl, Endpoint};

use crate::Failure;

/// A device's channel on a broker, and the login a terminal uses there.
#[derive(Debug, Clone)]
pub struct Target {
    /// Broker address and credentials.
    pub endpoint: Endpoint,
    /// The device's channel: its topics are `altair/<channel>/...`.
    pub channel: String,
}

impl Target {
    /// The remote target named by the environment, or `None` when `ALTAIR_HIL_BROKER` is
    /// unset (the scenarios then start their own local rig):
    /// - `ALTAIR_HIL_BROKER`: `mqtts://HOST:PORT` (device listener) or `wss://HOST:PORT`
    ///   (browser listener);
    /// - `ALTAIR_HIL_CHANNEL`: the device's channel;
    /// - `ALTAIR_HIL_CA`: the CA file the broker's certificate chains to (default: the
    ///   system's roots, for Let's Encrypt);
    /// - `ALTAIR_HIL_CERT` and `ALTAIR_HIL_KEY`: a client certificate for the channel, or
    ///   `ALTAIR_HIL_USER` and `ALTAIR_HIL_PASSWORD_FILE`: a web user granted the channel.
    pub fn from_env() -> Result<Option<Target>, Failure> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(broker) = var("ALTAIR_HIL_BROKER") else {
            return Ok(None);
        };
        let url =
            BrokerUrl::parse(&broker).map_err(|e| Failure(format!("ALTAIR_HIL_BROKER: {e}")))?;
        let channel = var("ALTAIR_HIL_CHANNEL").ok_or_else(|| {
            Failure::new("ALTAIR_HIL_BROKER is set but ALTAIR_HIL_CHANNEL is not")
        })?;
        let identity = match (var("ALTAIR_HIL_CERT"), var("ALTAIR_HIL_KEY")) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            _ => {
                return Err(Failure::new(
                    "set both ALTAIR_HIL_CERT and ALTAIR_HIL_KEY (a client certificate and its key)",
                ));
            }
        };
        let credentials = match (var("ALTAIR_HIL_USER"), var("ALTAIR_HIL_PASSWORD_FILE")) {
            (Some(user), Some(file)) => {
                let password = std::fs::read_to_string(&file)
                    .map_err(|e| Failure(format!("ALTAIR_HIL_PASSWORD_FILE {file}: {e}")))?;
                Some((
                    user,
                    password.trim_end_matches(['\r', '\n']).as_bytes().to_vec(),
                ))
            }
            (None, None) => None,
            _ => {
                return Err(Failure::new(
                    "set both ALTAIR_HIL_USER and ALTAIR_HIL_PASSWORD_FILE (a web user's login)",
                ));
            }
        };
        if identity.is_none() && credentials.is_none() {
            return Err(Failure::new(
                "ALTAIR_HIL_BROKER needs a login: ALTAIR_HIL_CERT + ALTAIR_HIL_KEY (mqtts) or \
                 ALTAIR_HIL_USER + ALTAIR_HIL_PASSWORD_FILE (wss)",
            ));
        }
        Ok(Some(Target {
            endpoint: Endpoint {
                url,
                ca: var("ALTAIR_HIL_CA").map(PathBuf::from),
                identity,
                credentials,
            },
            channel,
        }))
    }

    /// The topic `altair/<channel>/<leaf>`.
    pub fn topic(&self, leaf: &str) -> String {
        format!("altair/{}/{leaf}", self.channel)
    }
}
