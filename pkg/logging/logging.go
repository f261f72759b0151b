// Package logging caps log verbosity so that no log level can print Secrets.
package logging

import "github.com/go-logr/logr"

// MaxVerbosity is the highest V level that reaches the log. client-go logs
// request and response bodies from V(8) through the contextual logger,
// including the Secrets the registrar reads and writes; its V(6) and V(7)
// (URLs, masked headers) are noise for this controller. The registrar's own
// routine steps are at V(1).
const MaxVerbosity = 5

// CapVerbosity returns logger with every V level above maxLevel dropped.
func CapVerbosity(logger logr.Logger, maxLevel int) logr.Logger {
	return logr.New(&cappedSink{sink: logger.GetSink(), max: maxLevel})
}

type cappedSink struct {
	sink logr.LogSink
	max  int
}

func (s *cappedSink) Init(info logr.RuntimeInfo) { s.sink.Init(info) }

func (s *cappedSink) Enabled(level int) bool { return level <= s.max && s.sink.Enabled(level) }

func (s *cappedSink) Info(level int, msg string, kv ...any) {
	if level <= s.max {
		s.sink.Info(level, msg, kv...)
	}
}

func (s *cappedSink) Error(err error, msg string, kv ...any) { s.sink.Error(err, msg, kv...) }

func (s *cappedSink) WithValues(kv ...any) logr.LogSink {
	return &cappedSink{sink: s.sink.WithValues(kv...), max: s.max}
}

func (s *cappedSink) WithName(name string) logr.LogSink {
	return &cappedSink{sink: s.sink.WithName(name), max: s.max}
}

// WithCallDepth keeps caller information pointing at the caller, not here.
func (s *cappedSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return &cappedSink{sink: cd.WithCallDepth(depth + 1), max: s.max}
	}
	return s
}
