// A plug-in library is checked before dlopen (check_shared_object): the built example plug-in
// passes; copies cut short anywhere, a segment past the end, another ELF type, machine or class,
// a file that is not ELF, and a missing file are refused with an error naming the file. And
// RestartBudget, which decides whether a plug-in stage that stopped starts again.
#define BOOST_TEST_MODULE plugin_library
#include <boost/test/unit_test.hpp>

#include <elf.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>

#include "actors/plugin_library.h"
#include "actors/plugin_stages.h"
#include "tests/support/temp_dir.h"

using namespace pio;

namespace {

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string write(const test::TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = (dir.path() / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The error check_shared_object throws, or "" when it accepts the file.
std::string refusal(const std::string& path, const ElfTarget& target = host_elf_target()) {
  try {
    check_shared_object(path, target);
    return "";
  } catch (const std::runtime_error& e) {
    return e.what();
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kPlugin = PIO_TEST_PLUGIN;

}  // namespace

BOOST_AUTO_TEST_CASE(the_example_plugin_passes) {
  BOOST_TEST(refusal(kPlugin) == "");
  BOOST_TEST(host_elf_target().elf_class == (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32));
}

BOOST_AUTO_TEST_CASE(a_file_cut_short_is_refused_naming_it) {
  test::TempDir dir("elf");
  const std::string whole = bytes_of(kPlugin);
  BOOST_REQUIRE(whole.size() > 4096u);
  for (size_t size : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, size_t{200}, whole.size() / 2, whole.size() - 1}) {
    const std::string path = write(dir, "cut-" + std::to_string(size) + ".so", whole.substr(0, size));
    const std::string why = refusal(path);
    BOOST_TEST(contains(why, "cannot load plug-in " + path + ": "), size << ": " << why);
    BOOST_TEST((contains(why, "not a complete shared library") || contains(why, "not an ELF file")), size << ": " << why);
  }
}

BOOST_AUTO_TEST_CASE(a_loadable_segment_past_the_end_is_refused) {
  test::TempDir dir("elf");
  std::string bytes = bytes_of(kPlugin);
  Elf64_Ehdr h;
  std::memcpy(&h, bytes.data(), sizeof h);
  for (size_t i = 0; i < h.e_phnum; ++i) {
    Elf64_Phdr p;
    const size_t at = h.e_phoff + i * sizeof p;
    std::memcpy(&p, bytes.data() + at, sizeof p);
    if (p.p_type != PT_LOAD) continue;
    p.p_filesz = bytes.size();  // from p_offset, past the end unless the segment starts at 0
    p.p_offset += 4096;
    std::memcpy(bytes.data() + at, &p, sizeof p);
    break;
  }
  BOOST_TEST(contains(refusal(write(dir, "segment.so", bytes)), "loadable segment"));
}

BOOST_AUTO_TEST_CASE(another_type_machine_or_class_and_non_elf_files_are_refused) {
  test::TempDir dir("elf");
  std::string relocatable = bytes_of(kPlugin);
  const uint16_t rel = ET_REL;
  std::memcpy(relocatable.data() + offsetof(Elf64_Ehdr, e_type), &rel, sizeof rel);
  BOOST_TEST(contains(refusal(write(dir, "rel.so", relocatable)), "not a shared library (ELF type 1)"));

  ElfTarget other_machine = host_elf_target();
  ++other_machine.machine;
  BOOST_TEST(contains(refusal(kPlugin, other_machine), "built for another machine"));
  ElfTarget other_class = host_elf_target();
  other_class.elf_class = other_class.elf_class == ELFCLASS64 ? ELFCLASS32 : ELFCLASS64;
  BOOST_TEST(contains(refusal(kPlugin, other_class), "another ELF class"));

  BOOST_TEST(contains(refusal(write(dir, "text.so", std::string(100, 'x'))), "not an ELF file"));
  const std::string missing = (dir.path() / "missing.so").string();
  BOOST_TEST(refusal(missing) == "cannot load plug-in " + missing + ": No such file or directory");
}

BOOST_AUTO_TEST_CASE(restart_budget_holds_a_stage_down_after_too_many_stops_in_the_window) {
  RestartBudget budget(3, 60);
  BOOST_TEST(budget.allow(0));
  BOOST_TEST(budget.allow(1));
  BOOST_TEST(budget.allow(2));
  BOOST_TEST(!budget.allow(3));  // a fourth within 60 s
  RestartBudget spread(3, 60);
  for (double t : {0.0, 30.0, 59.0, 61.0, 95.0, 119.5}) BOOST_TEST(spread.allow(t), t);  // never 4 in 60 s
  BOOST_TEST(!spread.allow(120.5));  // 61, 95, 119.5, 120.5
}
