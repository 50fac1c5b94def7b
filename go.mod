module github.com/haywireowin/haywire

go 1.26.0

require golang.org/x/sys v0.49.0

require (
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	gopkg.in/ini.v1 v1.67.3 // indirect
)
