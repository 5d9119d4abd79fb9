// Package enginetest holds the dataset tests that need the engine (cgo, llama.cpp): kept apart so that
// "go test ./dataset/" and its fuzz targets stay pure Go and build without the engine.
package enginetest
