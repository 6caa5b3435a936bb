mod fast;
mod prop;
mod unit;
