// Package hooks says what the engine's native hooks do to a forward pass: which MLP neurons to capture,
// which to ablate (zero or given values) and under which sign conditions (paper-spec §4.2). It is
// plain Go data; package bindings hands it to the C hooks in native/.
package hooks
