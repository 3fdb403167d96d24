//! Durable small files (settings, the server record, storage keys): the one helper every
//! part of Reel uses, [`reel_media::durable`].

pub use reel_media::durable::{write, write_private};
