"""Testing toolkit: real upstream servers whose behaviour can be switched while traffic flows."""
