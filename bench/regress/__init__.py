"""The regression harness: scenarios as data replayed against the channel simulators on a
virtual clock and compared, message field by field and balance by balance, with their golden
transcripts; traffic replay; test-impact analysis (`payswitch regress ...`)."""
