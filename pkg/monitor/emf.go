package monitor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of fsxkms's metrics.
const Namespace = "fsxkms"

// writeEMF writes values as one CloudWatch Embedded Metric Format line
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
// with the dimensions Stack (when set: two stacks in one account and Region
// keep their metrics apart) and Function. Names ending in "Ms" are
// milliseconds, the rest counts.
func writeEMF(w io.Writer, now time.Time, stack, function string, values map[string]float64) error {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	names := sortedNames(values)
	defs := make([]metric, 0, len(names))
	doc := make(map[string]any, len(names)+2)
	for _, n := range names {
		unit := "Count"
		if strings.HasSuffix(n, "Ms") {
			unit = "Milliseconds"
		}
		defs = append(defs, metric{Name: n, Unit: unit})
		doc[n] = values[n]
	}
	doc["Function"] = function
	dims := []string{"Function"}
	if stack != "" {
		doc["Stack"] = stack
		dims = []string{"Stack", "Function"}
	}
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode EMF: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
