//! Helpers shared by the end-to-end tests. Each test file includes this with `mod support;` and uses
//! only some of it, so unused items are expected here.
#![allow(dead_code)]

pub mod http_server;
