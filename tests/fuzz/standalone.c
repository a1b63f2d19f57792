/*
 * The standalone driver of the fuzz targets: runs LLVMFuzzerTestOneInput
 * once on every file given (directories: every regular file in them), so
 * that each target's seed corpus runs under ctest in the normal and the
 * sanitizer build without libFuzzer.  With -DPOSTERN_FUZZ=ON and clang
 * the same targets link against libFuzzer instead (see CMakeLists.txt).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (1u << 20)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	uint8_t *buf = malloc(INPUT_MAX);
	if (!buf) {
		fclose(f);
		return 1;
	}
	size_t n = fread(buf, 1, INPUT_MAX, f);
	fclose(f);
	/* an exact-size copy, so ASan sees a read past the input */
	uint8_t *in = malloc(n ? n : 1);
	if (!in) {
		free(buf);
		return 1;
	}
	memcpy(in, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc |= run_file(argv[i]);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			return 1;
		}
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			int n = snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			if (n < 0 || (size_t)n >= sizeof path)
				continue;
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				rc |= run_file(path);
				files++;
			}
		}
		closedir(d);
	}
	printf("%d inputs\n", files);
	if (files == 0) {
		fprintf(stderr, "no inputs\n");
		return 1;
	}
	return rc;
}
