//! Occurrent's sources and sinks: JSON-lines inputs, dead-letter output, and the decoding of
//! bytes into the model's records.

pub mod decode;
pub mod event_store;
pub mod events;
pub mod jsonl;
pub mod kafka;
pub mod sample;

impl dataflows::graph::LineDecoder for decode::OccurrenceDecoder {
    fn decode(
        &self,
        line: &[u8],
        seq: dataflows::model::Seq,
        define: &mut dyn FnMut(dataflows::model::Symbol, &str),
    ) -> Result<dataflows::model::Record, String> {
        decode::OccurrenceDecoder::decode(self, line, seq, define)
    }
}

impl dataflows::graph::LineDecoder for events::InputDecoder {
    fn decode(
        &self,
        line: &[u8],
        seq: dataflows::model::Seq,
        define: &mut dyn FnMut(dataflows::model::Symbol, &str),
    ) -> Result<dataflows::model::Record, String> {
        events::InputDecoder::decode(self, line, seq, define)
    }

    fn end_block(&self) {
        events::InputDecoder::end_block(self)
    }
}
