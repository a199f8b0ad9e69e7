//! Domain: decisions over data, no processes, files or sessions. New domain modules start here; the older ones
//! (`batch`, `lock`, `migrations`, `catalog`, ...) move in with the layering work.

pub mod budget;
pub mod cutover;
pub mod duration;
pub mod identity;
pub mod rewrites;
pub mod statements;
