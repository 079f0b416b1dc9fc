//! Histograms as the run JSON carries them: HdrHistogram's V2 compressed format (deflate) in
//! standard base64, which every HdrHistogram implementation reads.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::histogram::{SIGNIFICANT_FIGURES, UNIT};

/// The run's merged histograms, serialized so that any percentile can be recomputed later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerializedHistograms {
    /// `hdrhistogram-v2-deflate-base64`: HdrHistogram's V2 compressed format (readable by
    /// every HdrHistogram implementation), in standard base64.
    pub encoding: String,
    /// Unit of the recorded values: `microseconds`.
    pub unit: String,
    pub significant_figures: u8,
    pub corrected: String,
    pub service: String,
}

const ENCODING: &str = "hdrhistogram-v2-deflate-base64";

impl SerializedHistograms {
    pub fn encode(corrected: &Histogram<u64>, service: &Histogram<u64>) -> Result<Self> {
        Ok(SerializedHistograms {
            encoding: ENCODING.to_string(),
            unit: UNIT.to_string(),
            significant_figures: SIGNIFICANT_FIGURES,
            corrected: encode_histogram(corrected)?,
            service: encode_histogram(service)?,
        })
    }

    /// Decodes the corrected-latency histogram.
    pub fn corrected(&self) -> Result<Histogram<u64>> {
        self.decode(&self.corrected)
    }

    /// Decodes the service-time histogram.
    pub fn service(&self) -> Result<Histogram<u64>> {
        self.decode(&self.service)
    }

    fn decode(&self, text: &str) -> Result<Histogram<u64>> {
        if self.encoding != ENCODING {
            bail!("unknown histogram encoding `{}`", self.encoding);
        }
        decode_histogram(text)
    }
}

pub(super) fn decode_histogram(text: &str) -> Result<Histogram<u64>> {
    let bytes = BASE64
        .decode(text)
        .context("histogram is not valid base64")?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|error| anyhow::anyhow!("histogram does not decode: {error:?}"))
}

pub(super) fn encode_histogram(histogram: &Histogram<u64>) -> Result<String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|error| anyhow::anyhow!("serializing a histogram: {error:?}"))?;
    Ok(BASE64.encode(bytes))
}

/// One second's corrected and service-time histograms, encoded like [`SerializedHistograms`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondHistograms {
    pub corrected: String,
    pub service: String,
}

impl SecondHistograms {
    pub fn encode(corrected: &Histogram<u64>, service: &Histogram<u64>) -> Result<Self> {
        Ok(SecondHistograms {
            corrected: encode_histogram(corrected)?,
            service: encode_histogram(service)?,
        })
    }

    /// Decodes both: (corrected, service).
    pub fn decode(&self) -> Result<(Histogram<u64>, Histogram<u64>)> {
        Ok((
            decode_histogram(&self.corrected)?,
            decode_histogram(&self.service)?,
        ))
    }
}
