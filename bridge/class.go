package bridge

// Bridged marks the bridge as an engine.BridgedHandler: the engine counts
// the latency of the requests it forwards apart from native routes'.
func (b *Bridge) Bridged() {}
