//! What `check` judges: one parse of each file (`sql`) and the rules over the parses (`rules`), which make
//! `domain::findings`.

pub mod rules;
pub mod sql;
