// The check a plug-in library passes before dlopen: dlopen maps a library's segments as its
// headers describe them, so a truncated file faults (SIGBUS) when the loader touches a page past
// its end. check_shared_object refuses such a file with an error instead.
#pragma once

#include <cstdint>
#include <string>

namespace pio {

// What a library must be built for: an ELF class (ELFCLASS32/64), byte order (ELFDATA2LSB/MSB)
// and machine (EM_*).
struct ElfTarget {
  uint8_t elf_class = 0;
  uint8_t data = 0;
  uint16_t machine = 0;
};

// This process's own (read from /proc/self/exe once). Throws std::runtime_error when that
// cannot be read.
const ElfTarget& host_elf_target();

// Throws std::runtime_error ("cannot load plug-in PATH: why") unless it is a complete ELF shared object (ET_DYN)
// for `target`: the identification, type and machine as expected, the program header table
// and every loadable segment's file bytes inside the file, and the section header table (if
// any) too.
void check_shared_object(const std::string& path, const ElfTarget& target = host_elf_target());

}  // namespace pio
