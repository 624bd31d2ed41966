package monitor

import (
	"io"
	"os"

	"github.com/fsxkms/fsxkms/internal/emf"
)

// metrics is where the metrics go: Metrics, or standard output (which
// Lambda sends to CloudWatch Logs, where EMF lines become metrics).
func (m *Monitor) metrics() io.Writer {
	if m.Metrics != nil {
		return m.Metrics
	}
	return os.Stdout
}

// emit writes values as one CloudWatch Embedded Metric Format line, in the
// form the Security Hub exporter's take too ([emf.Write]).
func (m *Monitor) emit(values map[string]float64) {
	fn := m.Function
	if fn == "" {
		fn = "fsxkms"
	}
	if err := emf.Write(m.metrics(), m.now(), m.Stack, fn, values); err != nil {
		m.log().Warn("metrics not written", "error", err.Error())
	}
}
