module github.com/secureops/secureops/tools/workflowcheck

go 1.26

// x/tools is pinned above the version workflowcheck v0.3.0 asks for: that
// one does not compile with Go 1.26.
tool go.temporal.io/sdk/contrib/tools/workflowcheck

require (
	go.temporal.io/sdk/contrib/tools/workflowcheck v0.3.0 // indirect
	golang.org/x/mod v0.29.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/tools v0.38.0 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
