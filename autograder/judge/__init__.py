"""The judge: hidden properties run against student code in a sandboxed worker, decided here."""
