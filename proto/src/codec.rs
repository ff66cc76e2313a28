//! The codec every generated client and server uses: prost's, with smaller per-call
//! buffers. tonic allocates its buffer size for each call's encoder and decoder up front
//! and keeps it for the call's life (8 KiB by default); inventory keeps one `Run` stream
//! open per host for its host watch, so at 2,000 hosts the default costs ~16 MiB on each
//! side for streams that carry a few hundred bytes a minute. Larger messages grow the
//! buffer in steps of this size, as before.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::ProstCodec;

/// Initial size (and growth step) of a call's encode and decode buffers.
pub const BUFFER_SIZE: usize = 1024;

/// Bytes encoded before a streaming response yields to the transport (tonic's default).
pub const YIELD_THRESHOLD: usize = 32 * 1024;

/// prost encoding with [`BUFFER_SIZE`] buffers.
#[derive(Debug, Clone, Copy)]
pub struct LeanCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for LeanCodec<T, U> {
    fn default() -> Self {
        LeanCodec(PhantomData)
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD)
}

impl<T, U> Codec for LeanCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = <ProstCodec<T, U> as Codec>::Decoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(settings())
    }
}
