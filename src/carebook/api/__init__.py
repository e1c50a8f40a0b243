"""HTTP: one thin package per API dialect, translating requests into core calls and back."""
