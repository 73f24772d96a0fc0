//! genesis
