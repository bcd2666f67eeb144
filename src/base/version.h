/* version.h - specrej's version and the version of its output schema.
 *
 * SPECREJ_VERSION is the one version string (--version, every JSON output's
 * "specrej_version"). SPECREJ_SCHEMA_VERSION numbers the layout of --json,
 * --trace and compare --json (docs/schema/specrej-output.schema.json): it
 * grows when a field is renamed, removed or changes meaning, so that a
 * reader can refuse what it does not know. */
#ifndef SPECREJ_VERSION_H
#define SPECREJ_VERSION_H

#define SPECREJ_VERSION "0.9.0"
#define SPECREJ_SCHEMA_VERSION 1

#endif
