package billing

// SetBeforeSettle makes j call f before settling each address; an error
// stops the run there, as a crash between two addresses would.
func SetBeforeSettle(j *Jobs, f func(job, address string) error) { j.beforeSettle = f }
