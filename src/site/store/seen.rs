//! (being written: issue 19)
