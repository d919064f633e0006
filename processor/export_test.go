package processor

// SetReleaseHook sets the function called when the pipelined process
// stage releases a prefetched batch because the batch before it failed.
func SetReleaseHook(p *Processor, f func(rows int)) { p.onRelease = f }
