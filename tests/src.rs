//! Placeholder: tests live in tests/.
