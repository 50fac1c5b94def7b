module github.com/haywireowin/haywire

go 1.26.0

require (
	github.com/edsrzf/mmap-go v1.2.0
	github.com/google/uuid v1.6.0
	golang.org/x/sys v0.49.0
	gopkg.in/ini.v1 v1.67.3
)
