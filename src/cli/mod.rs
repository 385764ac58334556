pub mod nlu;
