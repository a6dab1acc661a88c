#pragma once

// Generated at build time from configs/datasets/*.yaml (cmake/EmbedFiles.cmake).

#include <string>
#include <vector>

namespace hare::data {

struct EmbeddedFile {
  std::string file;  // base name, e.g. "mhealth-tsv.yaml"
  std::string text;
};

const std::vector<EmbeddedFile>& embedded_dataset_specs();

}  // namespace hare::data
