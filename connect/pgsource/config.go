package pgsource

import (
	"errors"
	"fmt"
	"strings"
)

// Config is one PostgreSQL source connector: the changes of Tables in the
// database Postgres names, as records of one topic per table.
type Config struct {
	// Name identifies the connector. Required.
	Name string `yaml:"name"`
	// Postgres is the source database's URL; its user needs the
	// REPLICATION attribute (or superuser) and ownership of the tables
	// (to create the publication); the server needs wal_level=logical.
	// Required.
	Postgres string `yaml:"postgres"`
	// Tables are the captured tables, "schema.table" or "table" (in
	// public). Each needs a primary key. Required.
	Tables []string `yaml:"tables"`
	// TopicPrefix starts each table's topic name: the topic of table t in
	// schema s is TopicPrefix + s + "." + t (default prefix "").
	TopicPrefix string `yaml:"topic_prefix"`
	// Partitions of the topics the source creates (default 1). Topics
	// are created compacted (deletes are tombstones); an existing topic is
	// used as it is.
	Partitions int32 `yaml:"partitions"`
	// Slot and Publication name the replication slot and the publication
	// the source creates (default: "sluice_" + Name, with characters
	// outside [a-z0-9_] replaced by "_").
	Slot        string `yaml:"slot"`
	Publication string `yaml:"publication"`
}

func (c Config) withDefaults() (Config, error) {
	def := "sluice_" + strings.ToLower(nonSlot.ReplaceAllString(strings.ToLower(c.Name), "_"))
	if c.Slot == "" {
		c.Slot = def
	}
	if c.Publication == "" {
		c.Publication = def
	}
	if c.Partitions == 0 {
		c.Partitions = 1
	}
	var errs []string
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, "name is required")
	}
	if strings.TrimSpace(c.Postgres) == "" {
		errs = append(errs, "postgres is required")
	}
	if len(c.Tables) == 0 {
		errs = append(errs, "tables is required (a list of schema.table)")
	}
	for _, t := range c.Tables {
		if _, _, err := splitTable(t); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if !slotName.MatchString(c.Slot) {
		errs = append(errs, fmt.Sprintf("slot %q: want lower-case letters, digits and _ (at most 63)", c.Slot))
	}
	// The same rule as the slot's: the name goes into the replication
	// command's publication_names literal, where PostgreSQL folds an
	// unquoted name to lower case (MyPub would stream from mypub).
	if !slotName.MatchString(c.Publication) {
		errs = append(errs, fmt.Sprintf("publication %q: want lower-case letters, digits and _ (at most 63)", c.Publication))
	}
	if c.Partitions < 0 {
		errs = append(errs, "partitions must be positive")
	}
	if len(errs) > 0 {
		return c, errors.New(strings.Join(errs, "; "))
	}
	return c, nil
}

// splitTable splits "schema.table" ("table" means public.table).
func splitTable(s string) (schema, table string, err error) {
	parts := strings.Split(s, ".")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return "public", parts[0], nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("table %q: want schema.table", s)
}
