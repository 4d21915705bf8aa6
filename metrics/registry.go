package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/registry"
)

// Registry is what the registry collector reads; *registry.Registry has
// it. Both calls are in-memory reads.
type Registry interface {
	Subjects(ctx context.Context, prefix string, opt registry.ListOptions) ([]string, error)
	Schemas(ctx context.Context, prefix string, opt registry.ListOptions, latestOnly bool) ([]registry.SubjectVersion, error)
}

var (
	descSubjects = prometheus.NewDesc("sluice_registry_subjects",
		"Subjects with a live (not soft-deleted) version.", nil, nil)
	descVersions = prometheus.NewDesc("sluice_registry_schema_versions",
		"Live subject versions over every subject.", nil, nil)
	descSchemas = prometheus.NewDesc("sluice_registry_schemas",
		"Distinct schemas (ids) used by live subject versions.", nil, nil)
)

// registryCollector counts the registry's subjects and schemas at scrape
// time.
type registryCollector struct{ r Registry }

// Describe sends every description.
func (c *registryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSubjects
	ch <- descVersions
	ch <- descSchemas
}

// Collect counts.
func (c *registryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	subjects, err := c.r.Subjects(ctx, "", registry.ListOptions{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSubjects, err)
		return
	}
	versions, err := c.r.Schemas(ctx, "", registry.ListOptions{}, false)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descVersions, err)
		return
	}
	ids := make(map[int]struct{}, len(versions))
	for _, v := range versions {
		ids[v.ID] = struct{}{}
	}
	ch <- prometheus.MustNewConstMetric(descSubjects, prometheus.GaugeValue, float64(len(subjects)))
	ch <- prometheus.MustNewConstMetric(descVersions, prometheus.GaugeValue, float64(len(versions)))
	ch <- prometheus.MustNewConstMetric(descSchemas, prometheus.GaugeValue, float64(len(ids)))
}
