// Reading .pt2 archives (zip files written by torch.export.save) with libzip.
#include <zip.h>

#include "pt2_program.hpp"

namespace egfuse::pt2 {

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string why = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    if (err == ZIP_ER_NOENT || err == ZIP_ER_OPEN || err == ZIP_ER_READ)
      throw FormatError("E-pt2-open", path + ": cannot open: " + why);
    throw FormatError("E-pt2-not-zip", path + ": not a .pt2 archive (expected a zip file written by "
                                              "torch.export.save): " + why);
  }
  zip_ = z;
  zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(z, zip_uint64_t(i), 0);
    if (name) names_.emplace_back(name);
  }
}

ZipArchive::~ZipArchive() {
  if (zip_) zip_discard(static_cast<zip_t*>(zip_));
}

bool ZipArchive::has(const std::string& name) const {
  return zip_name_locate(static_cast<zip_t*>(zip_), name.c_str(), 0) >= 0;
}

std::string ZipArchive::read(const std::string& name) const {
  zip_t* z = static_cast<zip_t*>(zip_);
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(z, name.c_str(), 0, &st) != 0)
    throw FormatError("E-pt2-missing-entry", path_ + ": archive has no entry '" + name + "'");
  zip_file_t* f = zip_fopen(z, name.c_str(), 0);
  if (!f)
    throw FormatError("E-pt2-zip-read", path_ + ": cannot read entry '" + name + "': " + zip_strerror(z));
  std::string out;
  out.resize(size_t(st.size));
  zip_int64_t got = out.empty() ? 0 : zip_fread(f, out.data(), out.size());
  std::string why = got < 0 ? zip_file_strerror(f) : std::string("short read");
  zip_fclose(f);
  if (got != zip_int64_t(out.size()))
    throw FormatError("E-pt2-zip-read", path_ + ": entry '" + name + "' is damaged or truncated (" + why + ")");
  return out;
}

}  // namespace egfuse::pt2
