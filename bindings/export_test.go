package bindings

// TuneDevice exposes Context.tuneDevice to the external tests.
func TuneDevice(c *Context, mode int, candCap int64, rowsPerThread int) {
	c.tuneDevice(mode, candCap, rowsPerThread)
}

// FaultInC exposes faultInC to the external tests.
func FaultInC() { faultInC() }
