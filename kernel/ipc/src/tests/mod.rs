mod prop;
mod unit;
