/* version.h - the one version string of specrej (`specrej --version`, and
 * what output records as the software that wrote it). Contract: a release
 * changes it here and nowhere else; semantic versioning (a change of the
 * output schema or of a run's results for the same inputs is a minor or
 * major step, never a patch). */
#ifndef SPECREJ_VERSION_H
#define SPECREJ_VERSION_H

#define SPECREJ_VERSION "0.2.0"

#endif
