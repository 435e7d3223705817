#include "actors/plugin_library.h"

#include <elf.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace pio {
namespace {

struct Elf32 {
  using Ehdr = Elf32_Ehdr;
  using Phdr = Elf32_Phdr;
  using Shdr = Elf32_Shdr;
};
struct Elf64 {
  using Ehdr = Elf64_Ehdr;
  using Phdr = Elf64_Phdr;
  using Shdr = Elf64_Shdr;
};

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw std::runtime_error("cannot load plug-in " + path + ": " + why);
}

// The file's bytes, read on demand; `holds` says whether a range lies inside it.
class File {
 public:
  explicit File(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) refuse(path, std::strerror(errno));
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
  }
  uint64_t size() const { return size_; }
  bool holds(uint64_t offset, uint64_t count) const { return offset <= size_ && count <= size_ - offset; }
  // The T at offset; the caller checked holds(offset, sizeof(T)).
  template <class T>
  T read(uint64_t offset) {
    T out{};
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(&out), sizeof(T));
    if (!in_) refuse(path_, "read error");
    return out;
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

// A table of `count` entries of `entry_size` bytes at `offset` lies inside the file.
bool table_fits(const File& file, uint64_t offset, uint64_t count, uint64_t entry_size) {
  return entry_size != 0 && count <= UINT64_MAX / entry_size && file.holds(offset, count * entry_size);
}

template <class E>
void check_tables(File& file, const std::string& path) {
  const auto cut = [&](const std::string& what) {
    refuse(path, "not a complete shared library (" + std::to_string(file.size()) + " bytes): " + what);
  };
  if (!file.holds(0, sizeof(typename E::Ehdr))) cut("the ELF header is cut off");
  const auto h = file.template read<typename E::Ehdr>(0);
  if (h.e_type != ET_DYN) refuse(path, "not a shared library (ELF type " + std::to_string(h.e_type) + ")");
  if (h.e_phnum == 0 || h.e_phentsize != sizeof(typename E::Phdr)) cut("no valid program header table");
  if (!table_fits(file, h.e_phoff, h.e_phnum, h.e_phentsize)) cut("the program header table ends past the file");
  for (uint64_t i = 0; i < h.e_phnum; ++i) {
    const auto p = file.template read<typename E::Phdr>(h.e_phoff + i * h.e_phentsize);
    if (p.p_type == PT_LOAD && !file.holds(p.p_offset, p.p_filesz))
      cut("loadable segment " + std::to_string(i) + " ends past the file");
  }
  if (h.e_shoff != 0) {
    if (h.e_shentsize != sizeof(typename E::Shdr)) cut("no valid section header table");
    if (!table_fits(file, h.e_shoff, 1, h.e_shentsize)) cut("the section header table ends past the file");
    // Past SHN_LORESERVE sections, e_shnum is 0 and the count is the first entry's sh_size.
    const uint64_t count = h.e_shnum != 0 ? h.e_shnum : file.template read<typename E::Shdr>(h.e_shoff).sh_size;
    if (!table_fits(file, h.e_shoff, count, h.e_shentsize)) cut("the section header table ends past the file");
  }
}

ElfTarget read_target(File& file, const std::string& path) {
  if (!file.holds(0, EI_NIDENT + 4)) refuse(path, "not an ELF file");
  const auto ident = file.read<std::array<unsigned char, EI_NIDENT>>(0);
  if (std::memcmp(ident.data(), ELFMAG, SELFMAG) != 0) refuse(path, "not an ELF file");
  // e_type then e_machine follow e_ident in both classes, in the file's byte order.
  const auto machine = file.read<uint16_t>(EI_NIDENT + 2);
  const bool swapped = (ident[EI_DATA] == ELFDATA2MSB) != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
  return {ident[EI_CLASS], ident[EI_DATA], swapped ? static_cast<uint16_t>(machine >> 8 | machine << 8) : machine};
}

}  // namespace

const ElfTarget& host_elf_target() {
  static const ElfTarget target = [] {
    File self("/proc/self/exe");
    return read_target(self, "/proc/self/exe");
  }();
  return target;
}

void check_shared_object(const std::string& path, const ElfTarget& target) {
  File file(path);
  const ElfTarget found = read_target(file, path);
  if (found.elf_class != target.elf_class || found.data != target.data)
    refuse(path, "built for another ELF class or byte order than this program");
  if (found.machine != target.machine)
    refuse(path, "built for another machine (ELF machine " + std::to_string(found.machine) + ", this program's " +
                     std::to_string(target.machine) + ")");
  if (found.elf_class == ELFCLASS64) check_tables<Elf64>(file, path);
  else check_tables<Elf32>(file, path);
}

}  // namespace pio
