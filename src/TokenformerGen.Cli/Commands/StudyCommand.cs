using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Cli.Reports;
using TokenformerGen.Scaling;
using TokenformerGen.Scaling.Study;

namespace TokenformerGen.Cli.Commands;

internal sealed class StudySettings : RunSettings
{
    [CommandOption("--seeds <N|LIST>")]
    [Description("Seed pairs: N (the first N of " + StudyCommand.SeedListText + ") or a list of SEED/DATA-SEED, e.g. 1234/1,7/2. Default: 3 (2 with --smoke)")]
    public string? Seeds { get; set; }

    [CommandOption("--scales <LIST>")]
    [Description("Budget scales, each multiplying every stage's token budget, e.g. 1,2,4")]
    [DefaultValue("1")]
    public string Scales { get; set; } = "1";

    [CommandOption("--jobs <N>")]
    [Description("Settings trained side by side, each in a child process of its own (--threads 1 each unless --threads is given); 1: one after another in this process")]
    [DefaultValue(1)]
    public int Jobs { get; set; } = 1;

    [CommandOption("--smoke")]
    [Description("A check in seconds: budget scales x" + StudyCommand.SmokeScaleText + ", 2 evaluations per stage of 1 batch, 2 seed pairs unless --seeds is given")]
    public bool Smoke { get; set; }

    // A child process of --jobs runs one setting: SCALE/SEED/DATA-SEED.
    [CommandOption("--only <SETTING>", IsHidden = true)]
    public string? Only { get; set; }
}

/// <summary>
/// Runs a family's schedule and its baselines over several seed pairs and budget scales, each setting in an ordinary
/// resumable run folder under one study folder (<c>scale-X/seed-S-D</c>), and reports per scale the mean, min and max
/// over seeds of both ratios, the family ratio and the losses at equal compute (test split), with two plots.
/// </summary>
internal sealed class StudyCommand(CliSession session) : Command<StudySettings>
{
    /// <summary>How the help lists <see cref="SeedPair.Standard"/> (a constant, tested equal to it).</summary>
    public const string SeedListText = "1234/1, 7/2, 99/3, 2024/4, 31337/5, 42/6, 314/7, 2718/8";

    /// <summary>What <c>--smoke</c> multiplies the budget scales by.</summary>
    public const double SmokeScale = 0.01;

    /// <summary>How the help names <see cref="SmokeScale"/>.</summary>
    public const string SmokeScaleText = "0.01";

    public override int Execute(CommandContext context, StudySettings settings, CancellationToken cancellationToken)
    {
        if (settings.Seed != TrainingSettings.ScheduleDefaults.Seed || settings.DataSeed != TrainingSettings.ScheduleDefaults.DataSeed || settings.Scale != 1)
            throw new CliException("study takes its seeds from --seeds and its budgets from --scales; drop --seed, --data-seed and --scale");
        if (settings.Jobs < 1) throw new CliException("--jobs must be at least 1");
        if (settings.Smoke)
        {
            settings.Evals = 2;
            settings.EvalBatches = 1;
        }
        var pairs = OptionParsing.SeedPairs(settings.Seeds ?? (settings.Smoke ? "2" : "3"), SeedPair.Standard);
        var scales = OptionParsing.Scales(settings.Scales).Select(s => settings.Smoke ? s * SmokeScale : s).ToList();
        // With --jobs, this process only reads the finished folders, and each child trains on one thread unless told otherwise.
        string[] childThreads = settings.Threads is null ? ["--threads", "1"] : [];
        if (settings.Jobs > 1 && settings.Only is null) settings.Threads ??= 1;

        using var schedule = ScheduleRun.Prepare(session, settings);
        var root = settings.Out ?? schedule.DefaultFolder("-study");
        var runs = new StudyGrid(scales, pairs).Settings;
        string FolderOf(StudySetting setting) => Path.Combine(root, setting.FolderName);
        try
        {
            if (settings.Only is { } only)
            {
                var setting = runs.SingleOrDefault(r => r.Key == only) ?? throw new CliException($"--only {only} is not a setting of this study");
                schedule.Execute(setting.Apply(schedule.Options), FolderOf(setting), cancellationToken);
                return 0;
            }

            using var folder = ScheduleRun.Claim(root, StudyGrid.Identity(schedule.Family, schedule.Options, schedule.DataIdentity));
            session.Console.MarkupLineInterpolated(
                $"[bold]study[/] of {schedule.Family.Name}: budget scales {string.Join(", ", scales.Select(Numbers.Exact))} × seed pairs {string.Join(", ", pairs)} = {runs.Count} runs in {root}{(folder.Resumed ? " (resuming what it holds)" : "")}");
            schedule.Describe(runs[0].Apply(schedule.Options));
            if (settings.Jobs > 1) RunChildren([.. context.Arguments, .. childThreads], settings.Jobs, runs, FolderOf, cancellationToken);

            var reports = new List<(StudySetting Setting, RunReport Report)>();
            foreach (var run in runs)
            {
                session.Console.MarkupLineInterpolated($"[bold]budget scale {Numbers.Exact(run.Scale)}, seeds {run.Seeds}[/]");
                var report = schedule.Execute(run.Apply(schedule.Options), FolderOf(run), cancellationToken);
                session.Console.MarkupLine(Markup.Escape(report.Conclusion()));
                reports.Add((run, report));
            }
            var study = new StudyReport(schedule.Family, schedule.DataName, schedule.DataIdentity, schedule.Options, reports);
            study.Write(root);
            study.Render(session.Console);
            session.Console.MarkupLineInterpolated($"study folder: {root} ({StudyReport.MarkdownFile}, {StudyReport.JsonFile}, {StudyReport.RatioPlotFile}, a loss plot per scale, and a run folder per setting)");
            return 0;
        }
        catch (OperationCanceledException)
        {
            session.Console.MarkupLineInterpolated($"stopped; the same command again resumes every setting from its last checkpoint in {root}");
            return 130;
        }
    }

    // Each setting in a child process running this same command with --only, its output in scale-X/seed-S-D.log; a
    // finished setting's child finds it finished and exits at once.
    private void RunChildren(IReadOnlyList<string> arguments, int jobs, IReadOnlyList<StudySetting> runs, Func<StudySetting, string> folderOf, CancellationToken cancellation)
    {
        var (program, prefix) = ThisProgram();
        var pending = new Queue<StudySetting>(runs);
        var running = new List<Child>();
        var failed = new List<string>();
        while (pending.Count > 0 || running.Count > 0)
        {
            while (running.Count < jobs && pending.Count > 0 && !cancellation.IsCancellationRequested)
            {
                var next = pending.Dequeue();
                var child = Child.Start(program, [.. prefix, .. arguments], next, folderOf(next));
                running.Add(child);
                session.Console.MarkupLineInterpolated($"[grey]{DateTime.Now:HH:mm:ss}[/] started budget scale {Numbers.Exact(child.Setting.Scale)}, seeds {child.Setting.Seeds} (pid {child.Process.Id}; output in {child.LogPath})");
            }
            if (running.FirstOrDefault(r => r.Process.HasExited) is not { } done)
            {
                Thread.Sleep(500);
                if (cancellation.IsCancellationRequested) pending.Clear();   // the children got the same interrupt: they save and stop
                continue;
            }
            running.Remove(done);
            var code = done.Finish();
            session.Console.MarkupLineInterpolated($"[grey]{DateTime.Now:HH:mm:ss}[/] {(code == 0 ? "finished" : $"[red]exited with {code}[/]")} budget scale {Numbers.Exact(done.Setting.Scale)}, seeds {done.Setting.Seeds}");
            if (code != 0) failed.Add($"{done.Setting.Key} (see {done.LogPath})");
        }
        cancellation.ThrowIfCancellationRequested();
        if (failed.Count > 0) throw new CliException($"{failed.Count} setting(s) failed: {string.Join("; ", failed)}; the same command again resumes them");
    }

    // One child process and the log its output goes to.
    private sealed class Child
    {
        private readonly StreamWriter _log;

        private Child(StudySetting setting, Process process, StreamWriter log, string logPath) => (Setting, Process, _log, LogPath) = (setting, process, log, logPath);

        public StudySetting Setting { get; }

        public Process Process { get; }

        public string LogPath { get; }

        // Starts `program arguments --only SETTING`.
        public static Child Start(string program, IReadOnlyList<string> arguments, StudySetting setting, string directory)
        {
            var logPath = directory + ".log";
            Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments.Append("--only").Append(setting.Key)) start.ArgumentList.Add(argument);
            var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
            var process = Process.Start(start) ?? throw new CliException($"--jobs: could not start {program}");
            void Write(object _, DataReceivedEventArgs e)
            {
                if (e.Data is not null) lock (log) log.WriteLine(e.Data);
            }
            process.OutputDataReceived += Write;
            process.ErrorDataReceived += Write;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return new Child(setting, process, log, logPath);
        }

        // Waits for the output to drain, closes the log and returns the exit code.
        public int Finish()
        {
            Process.WaitForExit();
            var code = Process.ExitCode;
            Process.Dispose();
            lock (_log) _log.Dispose();
            return code;
        }
    }

    // The command that started this process: an apphost, or `dotnet app.dll`.
    private static (string Program, string[] Prefix) ThisProgram()
    {
        var process = Environment.ProcessPath ?? throw new CliException("--jobs: cannot tell which program this process runs");
        var entry = Assembly.GetEntryAssembly()?.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && !string.IsNullOrEmpty(entry) ? (process, [entry]) : (process, []);
    }
}
